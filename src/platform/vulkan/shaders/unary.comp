#version 450
// out = f(x) over contiguous f32 tensors (out may be x). op: 0 scale (x * a + b), 1 silu, 2 gelu_tanh,
// 3 clamp (min(max(x, a), b)).
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) buffer Out { float out_values[]; };
layout(push_constant) uniform Push {
  uint base[6];
  uint count;
  uint op;
  float a;
  float b;
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    const float v = x[p.base[0] + i];
    float result;
    if (p.op == 0u) {
      result = v * p.a + p.b;
    } else if (p.op == 1u) {
      result = v / (1.0 + exp(-v));
    } else if (p.op == 2u) {
      result = 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    } else {
      result = min(max(v, p.a), p.b);
    }
    out_values[p.base[1] + i] = result;
  }
}
