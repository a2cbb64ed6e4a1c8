#version 450
#extension GL_GOOGLE_include_directive : require
// y[r, o] = sum_k x[r, k] * w[o, k] + bias[o]: contiguous f32, bf16 or f16 tensors, f32 accumulation. One invocation per
// output element (grid-stride), so it assumes no subgroup size.
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
} p;

void main() {
  const uint total = p.rows * p.out_features;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint x_dtype = dtype_of(p.dtypes, 0u), w_dtype = dtype_of(p.dtypes, 1u);
  for (uint index = gl_GlobalInvocationID.x; index < total; index += stride) {
    const uint row = index / p.out_features, column = index % p.out_features;
    float sum = p.has_bias != 0u ? LOAD(bias, dtype_of(p.dtypes, 2u), p.base[2] + column) : 0.0;
    const uint x_row = p.base[0] + row * p.in_features, w_row = p.base[1] + column * p.in_features;
    precise float compensation = 0.0;  // Kahan: f32 sums close to the cpu's
    for (uint k = 0u; k < p.in_features; ++k) {
      precise const float term = LOAD(x, x_dtype, x_row + k) * LOAD(w, w_dtype, w_row + k) - compensation;
      precise const float next = sum + term;
      compensation = (next - sum) - term;
      sum = next;
    }
    STORE(y, dtype_of(p.dtypes, 3u), p.base[3] + index, sum);
  }
}
