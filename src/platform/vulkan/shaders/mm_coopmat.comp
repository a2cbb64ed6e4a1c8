#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
// mm.comp on cooperative matrices (VK_KHR_cooperative_matrix: tensor cores, matrix cores, XMX), for devices that
// report f16 x f16 -> f32 products of 16 x 16 x 16 at subgroup scope. A workgroup computes a 32 x 32 block of y
// as four 16 x 16 tiles, shared among however many subgroups it has (its subgroup size is never assumed); x and
// w slices of 16 are staged in shared memory as f16, products accumulate in f32. Chosen only for 2-byte weights
// (the tolerance of 2-byte operands covers the f16 rounding of x); X2V_VULKAN_COOPMAT=0 turns it off. Built only
// where glslc knows GL_KHR_cooperative_matrix.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
INPUT(0, x);
INPUT(1, w);
INPUT(2, bias);
OUTPUT(3, y);
layout(push_constant) uniform Push {
  uint base[6];
  uint dtypes;
  uint rows;
  uint in_features;
  uint out_features;
  uint has_bias;
  uint y_row_stride;
} p;

const uint kGroupSize = 64u;
const uint kBlock = 32u;
const uint kSlice = 16u;
const uint kTile = 16u;
const uint kTiles = 4u;  // 2 x 2 tiles of 16 x 16 in a 32 x 32 block

shared float16_t x_tile[kBlock * kSlice];  // [row][k]
shared float16_t w_tile[kBlock * kSlice];  // [column][k]: w's slice, read as the k x n matrix B column-major
shared float y_tile[kBlock * kBlock];      // [row][column], for the epilogue (bias, bounds, dtype)

void main() {
  const uint local = gl_LocalInvocationID.x;
  const uint x_dtype = dtype_of(p.dtypes, 0u), w_dtype = dtype_of(p.dtypes, 1u);
  const uint row_blocks = (p.rows + kBlock - 1u) / kBlock;
  const uint column_blocks = (p.out_features + kBlock - 1u) / kBlock;
  for (uint block = gl_WorkGroupID.x; block < row_blocks * column_blocks; block += gl_NumWorkGroups.x) {
    const uint first_row = (block / column_blocks) * kBlock;
    const uint first_column = (block % column_blocks) * kBlock;
    coopmat<float, gl_ScopeSubgroup, kTile, kTile, gl_MatrixUseAccumulator> sums[kTiles];
    for (uint t = 0u; t < kTiles; ++t)
      sums[t] = coopmat<float, gl_ScopeSubgroup, kTile, kTile, gl_MatrixUseAccumulator>(0.0);
    for (uint k0 = 0u; k0 < p.in_features; k0 += kSlice) {
      for (uint load = local; load < kBlock * kSlice; load += kGroupSize) {
        const uint r = load / kSlice, k = load % kSlice, at_k = k0 + k;
        const uint row = first_row + r, column = first_column + r;
        x_tile[load] = float16_t(row < p.rows && at_k < p.in_features
                                     ? LOAD(x, x_dtype, p.base[0] + row * p.in_features + at_k) : 0.0);
        w_tile[load] = float16_t(column < p.out_features && at_k < p.in_features
                                     ? LOAD(w, w_dtype, p.base[1] + column * p.in_features + at_k) : 0.0);
      }
      barrier();
      for (uint t = 0u; t < kTiles; ++t) {
        if (t % gl_NumSubgroups != gl_SubgroupID) continue;  // this subgroup's tiles
        coopmat<float16_t, gl_ScopeSubgroup, kTile, kTile, gl_MatrixUseA> a;
        coopmat<float16_t, gl_ScopeSubgroup, kTile, kTile, gl_MatrixUseB> b;
        coopMatLoad(a, x_tile, (t / 2u) * kTile * kSlice, kSlice, gl_CooperativeMatrixLayoutRowMajor);
        coopMatLoad(b, w_tile, (t % 2u) * kTile * kSlice, kSlice, gl_CooperativeMatrixLayoutColumnMajor);
        sums[t] = coopMatMulAdd(a, b, sums[t]);
      }
      barrier();
    }
    for (uint t = 0u; t < kTiles; ++t) {
      if (t % gl_NumSubgroups != gl_SubgroupID) continue;
      coopMatStore(sums[t], y_tile, (t / 2u) * kTile * kBlock + (t % 2u) * kTile, kBlock,
                   gl_CooperativeMatrixLayoutRowMajor);
    }
    barrier();
    for (uint at = local; at < kBlock * kBlock; at += kGroupSize) {
      const uint row = first_row + at / kBlock, column = first_column + at % kBlock;
      if (row >= p.rows || column >= p.out_features) continue;
      const float bias_value = p.has_bias != 0u ? LOAD(bias, dtype_of(p.dtypes, 2u), p.base[2] + column) : 0.0;
      STORE(y, dtype_of(p.dtypes, 3u), p.base[3] + row * p.y_row_stride + column, y_tile[at] + bias_value);
    }
    barrier();
  }
}
