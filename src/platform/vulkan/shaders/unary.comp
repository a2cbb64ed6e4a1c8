#version 450
#extension GL_GOOGLE_include_directive : require
// out = f(x) over contiguous tensors (out may be x). op: 0 scale (x * a + b), 1 silu, 2 gelu_tanh,
// 3 clamp (min(max(x, a), b)), 4 gelu_erf.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
INPUT(0, x);
OUTPUT(1, out_values);
layout(push_constant) uniform Push {
  uint base[6];
  uint dtypes;
  uint count;
  uint op;
  float a;
  float b;
} p;

// erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7): GLSL has no erf.
float erf_approximation(float x) {
  const float t = 1.0 / (1.0 + 0.3275911 * abs(x));
  const float polynomial =
      t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - polynomial * exp(-x * x));
}

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint x_dtype = dtype_of(p.dtypes, 0u), out_dtype = dtype_of(p.dtypes, 1u);
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    const float v = LOAD(x, x_dtype, p.base[0] + i);
    float result;
    if (p.op == 0u) {
      result = v * p.a + p.b;
    } else if (p.op == 1u) {
      result = v / (1.0 + exp(-v));
    } else if (p.op == 2u) {
      result = 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    } else if (p.op == 3u) {
      result = min(max(v, p.a), p.b);
    } else {
      result = 0.5 * v * (1.0 + erf_approximation(v * 0.7071067811865476));
    }
    STORE(out_values, out_dtype, p.base[1] + i, result);
  }
}
