#version 450
#extension GL_GOOGLE_include_directive : require
// out[i] = value over a contiguous tensor.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
OUTPUT(0, out_values);
layout(push_constant) uniform Push {
  uint base[6];  // first element of each binding (the bound range starts at an aligned offset)
  uint dtypes;   // 2-bit dtype code per binding
  uint count;
  float value;
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint out_dtype = dtype_of(p.dtypes, 0u);
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) STORE(out_values, out_dtype, p.base[0] + i, p.value);
}
