#version 450
// Ops whose later operands broadcast over the leading dims (their element count divides the output's):
// op 0 add: a + b; 1 mul: a * b; 2 modulate: a * (1 + c) + b (x, shift, scale);
// 3 gated_residual: a + b * c (residual, y, gate). Contiguous f32; out may be a.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer C { float c[]; };
layout(std430, binding = 3) buffer Out { float out_values[]; };
layout(push_constant) uniform Push {
  uint base[6];
  uint count;
  uint op;
  uint b_count;
  uint c_count;
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    const float va = a[p.base[0] + i];
    const float vb = b[p.base[1] + i % p.b_count];
    float result;
    if (p.op == 0u) {
      result = va + vb;
    } else if (p.op == 1u) {
      result = va * vb;
    } else if (p.op == 2u) {
      result = va * (1.0 + c[p.base[2] + i % p.c_count]) + vb;
    } else {
      result = va + vb * c[p.base[2] + i % p.c_count];
    }
    out_values[p.base[3] + i] = result;
  }
}
