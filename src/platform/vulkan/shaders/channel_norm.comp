#version 450
#extension GL_GOOGLE_include_directive : require
// channel_l2_norm (the VAE's RMS norm over channels): x [C, positions] normalized over C at every position,
// times sqrt(C) and gamma[c], SiLU fused when asked; x contiguous, out's channels out_channel_stride apart (a
// slice of a larger tensor along dim 1). One invocation per position, f32 math as the cpu's kernel.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
INPUT(0, x);
INPUT(1, gamma);
OUTPUT(2, out_values);
layout(push_constant) uniform Push {
  uint base[6];
  uint dtypes;
  uint channels;
  uint positions;
  uint out_channel_stride;
  float eps;
  uint silu;
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint x_dtype = dtype_of(p.dtypes, 0u), gamma_dtype = dtype_of(p.dtypes, 1u), out_dtype = dtype_of(p.dtypes, 2u);
  for (uint i = gl_GlobalInvocationID.x; i < p.positions; i += stride) {
    float squares = 0.0;
    for (uint c = 0u; c < p.channels; ++c) {
      const float v = LOAD(x, x_dtype, p.base[0] + c * p.positions + i);
      squares = fma(v, v, squares);
    }
    const float factor = sqrt(float(p.channels)) / max(sqrt(squares), p.eps);
    for (uint c = 0u; c < p.channels; ++c) {
      float v = LOAD(x, x_dtype, p.base[0] + c * p.positions + i) * (factor * LOAD(gamma, gamma_dtype, p.base[1] + c));
      if (p.silu != 0u) v = v / (1.0 + exp(-v));
      STORE(out_values, out_dtype, p.base[2] + c * p.out_channel_stride + i, v);
    }
  }
}
