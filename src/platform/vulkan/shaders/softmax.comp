#version 450
#extension GL_GOOGLE_include_directive : require
// softmax over the last dim of contiguous rows (f32, bf16 or f16); one invocation per row.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
INPUT(0, x);
OUTPUT(1, out_values);
layout(push_constant) uniform Push {
  uint base[6];
  uint dtypes;
  uint rows;
  uint width;
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint x_dtype = dtype_of(p.dtypes, 0u), out_dtype = dtype_of(p.dtypes, 1u);
  for (uint row = gl_GlobalInvocationID.x; row < p.rows; row += stride) {
    const uint in_row = p.base[0] + row * p.width, out_row = p.base[1] + row * p.width;
    float largest = LOAD(x, x_dtype, in_row);
    for (uint c = 1u; c < p.width; ++c) largest = max(largest, LOAD(x, x_dtype, in_row + c));
    float total = 0.0;
    for (uint c = 0u; c < p.width; ++c) total += exp(LOAD(x, x_dtype, in_row + c) - largest);
    for (uint c = 0u; c < p.width; ++c) STORE(out_values, out_dtype, out_row + c, exp(LOAD(x, x_dtype, in_row + c) - largest) / total);
  }
}
