#version 450
#extension GL_GOOGLE_include_directive : require
// W8A8: y[r, o] = (sum_k qx[r, k] * qw[o, k]) * (x_scale[r] * w_scale[o]) + bias[o], the int32 sums exact, the
// epilogue the cpu's (one fma). qx comes from quantize_rows.comp; both operands are int8 packed four to a
// 32-bit word (in_features % 4 == 0). Tiled as mm.comp. Built twice: with INTEGER_DOT the four products of a
// word are one OpSDot (SPV_KHR_integer_dot_product, for devices with shaderIntegerDotProduct), without it
// they are unpacked and multiplied one by one.
#include "tiled_mm.glsl"
#ifdef INTEGER_DOT
#extension GL_EXT_spirv_intrinsics : require
// OpSDot (4450) of two words as 4 x 8-bit signed vectors (PackedVectorFormat4x8Bit = 0); capabilities
// DotProductInput4x8BitPacked (6018) and DotProduct (6019).
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6018, 6019], id = 4450)
int packed_dot(uint a, uint b, spirv_literal int packed_vector_format);
int dot4(uint a, uint b) {
  return packed_dot(a, b, 0);
}
#else
int dot4(uint a, uint b) {
  const ivec4 av = ivec4(int(a) << 24, int(a) << 16, int(a) << 8, int(a)) >> 24;
  const ivec4 bv = ivec4(int(b) << 24, int(b) << 16, int(b) << 8, int(b)) >> 24;
  return av.x * bv.x + av.y * bv.y + av.z * bv.z + av.w * bv.w;
}
#endif
layout(std430, binding = 0) readonly buffer QX { uint qx[]; };
layout(std430, binding = 1) readonly buffer XScales { float x_scales[]; };
layout(std430, binding = 2) readonly buffer QW { uint qw[]; };
layout(std430, binding = 3) readonly buffer WScales { float w_scales[]; };
INPUT(4, bias);
OUTPUT(5, y);
layout(push_constant) uniform Push {
  uint base[6];  // bindings 0 and 2 in words
  uint dtypes;   // binding 4 (bias) and 5 (y) only
  uint rows;
  uint words;  // in_features / 4
  uint out_features;
  uint has_bias;
  uint y_row_stride;
} p;

shared uint x_tile[kSliceK][kTileRows + 1];
shared uint w_tile[kSliceK][kTileColumns + 1];

void main() {
  const uint local = gl_LocalInvocationID.x;
  const uint row_blocks = (p.rows + kTileRows - 1u) / kTileRows;
  const uint column_blocks = (p.out_features + kTileColumns - 1u) / kTileColumns;
  for (uint block = gl_WorkGroupID.x; block < row_blocks * column_blocks; block += gl_NumWorkGroups.x) {
    const uint first_row = (block / column_blocks) * kTileRows;
    const uint first_column = (block % column_blocks) * kTileColumns;
    int sums[kPerInvocation][kPerInvocation];
    for (uint i = 0u; i < kPerInvocation; ++i)
      for (uint j = 0u; j < kPerInvocation; ++j) sums[i][j] = 0;
    // A slice is 16 words: 64 values of k.
    for (uint w0 = 0u; w0 < p.words; w0 += kSliceK) {
      for (uint load = local; load < kTileRows * kSliceK; load += kGroupSize) {
        const uint r = load / kSliceK, word = load % kSliceK;
        const uint row = first_row + r, column = first_column + r, at = w0 + word;
        x_tile[word][r] = row < p.rows && at < p.words ? qx[p.base[0] + row * p.words + at] : 0u;
        w_tile[word][r] = column < p.out_features && at < p.words ? qw[p.base[2] + column * p.words + at] : 0u;
      }
      barrier();
      for (uint word = 0u; word < kSliceK; ++word) {
        uint a[kPerInvocation], b[kPerInvocation];
        for (uint i = 0u; i < kPerInvocation; ++i) a[i] = x_tile[word][local / kLanes + kLanes * i];
        for (uint j = 0u; j < kPerInvocation; ++j) b[j] = w_tile[word][local % kLanes + kLanes * j];
        for (uint i = 0u; i < kPerInvocation; ++i)
          for (uint j = 0u; j < kPerInvocation; ++j) sums[i][j] += dot4(a[i], b[j]);
      }
      barrier();
    }
    for (uint i = 0u; i < kPerInvocation; ++i) {
      const uint row = first_row + local / kLanes + kLanes * i;
      if (row >= p.rows) continue;
      const float x_scale = x_scales[p.base[1] + row];
      for (uint j = 0u; j < kPerInvocation; ++j) {
        const uint column = first_column + local % kLanes + kLanes * j;
        if (column >= p.out_features) continue;
        const float bias_value = p.has_bias != 0u ? LOAD(bias, dtype_of(p.dtypes, 4u), p.base[4] + column) : 0.0;
        const float value = fma(float(sums[i][j]), x_scale * w_scales[p.base[3] + column], bias_value);
        STORE(y, dtype_of(p.dtypes, 5u), p.base[5] + row * p.y_row_stride + column, value);
      }
    }
  }
}
