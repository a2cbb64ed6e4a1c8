#version 450
#extension GL_GOOGLE_include_directive : require
// y[r, o] = sum_k x[r, k] * w[o, k] + bias[o]: contiguous f32, bf16 or f16 tensors, f32 accumulation. Tiled: a
// workgroup computes a 32 x 32 block of y (grid-stride over blocks), staging 16-wide slices of x and w in
// shared memory, each invocation 4 x 4 outputs. Only barriers and shared memory, so no subgroup size is
// assumed. Each slice's 16 products are summed apart before they join the total, which keeps long sums
// within the cpu's rounding.
#include "tiled_mm.glsl"
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
  uint y_row_stride;  // elements between rows of y: out_features, or more for a column slice of a wider y
} p;

shared float x_tile[kSliceK][kTileRows + 1];
shared float w_tile[kSliceK][kTileColumns + 1];

void main() {
  const uint x_dtype = dtype_of(p.dtypes, 0u), w_dtype = dtype_of(p.dtypes, 1u);
  const uint local = gl_LocalInvocationID.x;
  const uint row_blocks = (p.rows + kTileRows - 1u) / kTileRows;
  const uint column_blocks = (p.out_features + kTileColumns - 1u) / kTileColumns;
  for (uint block = gl_WorkGroupID.x; block < row_blocks * column_blocks; block += gl_NumWorkGroups.x) {
    const uint first_row = (block / column_blocks) * kTileRows;
    const uint first_column = (block % column_blocks) * kTileColumns;
    float sums[kPerInvocation][kPerInvocation];
    for (uint i = 0u; i < kPerInvocation; ++i)
      for (uint j = 0u; j < kPerInvocation; ++j) sums[i][j] = 0.0;
    for (uint k0 = 0u; k0 < p.in_features; k0 += kSliceK) {
      // Consecutive invocations read consecutive k of one row: 8 values of x and 8 of w each.
      for (uint load = local; load < kTileRows * kSliceK; load += kGroupSize) {
        const uint r = load / kSliceK, k = load % kSliceK;
        const uint row = first_row + r, column = first_column + r, at_k = k0 + k;
        x_tile[k][r] = row < p.rows && at_k < p.in_features
                           ? LOAD(x, x_dtype, p.base[0] + row * p.in_features + at_k) : 0.0;
        w_tile[k][r] = column < p.out_features && at_k < p.in_features
                           ? LOAD(w, w_dtype, p.base[1] + column * p.in_features + at_k) : 0.0;
      }
      barrier();
      float slice[kPerInvocation][kPerInvocation];
      for (uint i = 0u; i < kPerInvocation; ++i)
        for (uint j = 0u; j < kPerInvocation; ++j) slice[i][j] = 0.0;
      for (uint k = 0u; k < kSliceK; ++k) {
        float a[kPerInvocation], b[kPerInvocation];
        for (uint i = 0u; i < kPerInvocation; ++i) a[i] = x_tile[k][local / kLanes + kLanes * i];
        for (uint j = 0u; j < kPerInvocation; ++j) b[j] = w_tile[k][local % kLanes + kLanes * j];
        for (uint i = 0u; i < kPerInvocation; ++i)
          for (uint j = 0u; j < kPerInvocation; ++j) slice[i][j] = fma(a[i], b[j], slice[i][j]);
      }
      for (uint i = 0u; i < kPerInvocation; ++i)
        for (uint j = 0u; j < kPerInvocation; ++j) sums[i][j] += slice[i][j];
      barrier();
    }
    for (uint i = 0u; i < kPerInvocation; ++i) {
      const uint row = first_row + local / kLanes + kLanes * i;
      if (row >= p.rows) continue;
      for (uint j = 0u; j < kPerInvocation; ++j) {
        const uint column = first_column + local % kLanes + kLanes * j;
        if (column >= p.out_features) continue;
        const float bias_value = p.has_bias != 0u ? LOAD(bias, dtype_of(p.dtypes, 2u), p.base[2] + column) : 0.0;
        STORE(y, dtype_of(p.dtypes, 3u), p.base[3] + row * p.y_row_stride + column, sums[i][j] + bias_value);
      }
    }
  }
}
