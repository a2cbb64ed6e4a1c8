#version 450
#extension GL_GOOGLE_include_directive : require
// Ops whose later operands broadcast over the leading dims (their element count divides the output's):
// op 0 add: a + b; 1 mul: a * b; 2 modulate: a * (1 + c) + b (x, shift, scale);
// 3 gated_residual: a + b * c (residual, y, gate). Contiguous; out may be a.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
INPUT(0, a);
INPUT(1, b);
INPUT(2, c);
OUTPUT(3, out_values);
layout(push_constant) uniform Push {
  uint base[6];
  uint dtypes;
  uint count;
  uint op;
  uint b_count;
  uint c_count;
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint a_dtype = dtype_of(p.dtypes, 0u), b_dtype = dtype_of(p.dtypes, 1u), c_dtype = dtype_of(p.dtypes, 2u),
             out_dtype = dtype_of(p.dtypes, 3u);
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    const float va = LOAD(a, a_dtype, p.base[0] + i);
    const float vb = LOAD(b, b_dtype, p.base[1] + i % p.b_count);
    float result;
    if (p.op == 0u) {
      result = va + vb;
    } else if (p.op == 1u) {
      result = va * vb;
    } else if (p.op == 2u) {
      result = va * (1.0 + LOAD(c, c_dtype, p.base[2] + i % p.c_count)) + vb;
    } else {
      result = va + vb * LOAD(c, c_dtype, p.base[2] + i % p.c_count);
    }
    STORE(out_values, out_dtype, p.base[3] + i, result);
  }
}
