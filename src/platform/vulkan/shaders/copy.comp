#version 450
#extension GL_GOOGLE_include_directive : require
// out = x for views of up to 6 dims with any strides (in elements), converting between f32, bf16 and f16.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
INPUT(0, x);
OUTPUT(1, out_values);
layout(push_constant) uniform Push {
  uint base[6];
  uint dtypes;
  uint count;
  uint ndim;
  uint shape[6];
  uint x_strides[6];
  uint out_strides[6];
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint x_dtype = dtype_of(p.dtypes, 0u), out_dtype = dtype_of(p.dtypes, 1u);
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    uint rest = i, x_offset = 0u, out_offset = 0u;
    for (int dim = int(p.ndim) - 1; dim >= 0; --dim) {
      const uint index = rest % p.shape[dim];
      rest /= p.shape[dim];
      x_offset += index * p.x_strides[dim];
      out_offset += index * p.out_strides[dim];
    }
    STORE(out_values, out_dtype, p.base[1] + out_offset, LOAD(x, x_dtype, p.base[0] + x_offset));
  }
}
