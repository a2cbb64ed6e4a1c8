#version 450
#extension GL_GOOGLE_include_directive : require
// y[r, o] = (sum_k x[r, k] * decode(w[o, k])) * scale[o] + bias[o]: float8 e4m3fn weights with per-output-channel
// scales, weight-only (x stays in its dtype: f32, bf16 or f16), compensated f32 sums. The weight bytes are read
// from 32-bit words, so no 8-bit storage feature is needed.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
INPUT(0, x);
layout(std430, binding = 1) readonly buffer W { uint w_words[]; };
layout(std430, binding = 2) readonly buffer Scale { float scale[]; };
INPUT(3, bias);
OUTPUT(4, y);
layout(push_constant) uniform Push {
  uint base[6];  // binding 1 in bytes
  uint dtypes;
  uint rows, in_features, out_features, has_bias;
  uint y_row_stride;  // elements between rows of y: out_features, or more for a column slice of a wider y
} p;

// float8 e4m3fn: sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, S.1111.111 is NaN.
float decode_e4m3(uint bits) {
  const uint exponent = (bits >> 3) & 15u, mantissa = bits & 7u;
  float magnitude;
  if (exponent == 15u && mantissa == 7u) {
    magnitude = uintBitsToFloat(0x7fc00000u);
  } else if (exponent == 0u) {
    magnitude = float(mantissa) * 0.001953125;  // mantissa / 8 * 2^-6
  } else {
    magnitude = uintBitsToFloat(((exponent + 120u) << 23) | (mantissa << 20));
  }
  return (bits & 128u) != 0u ? -magnitude : magnitude;
}

uint weight_byte(uint at) {
  return (w_words[at >> 2] >> ((at & 3u) * 8u)) & 255u;
}

void main() {
  const uint total = p.rows * p.out_features;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint x_dtype = dtype_of(p.dtypes, 0u), bias_dtype = dtype_of(p.dtypes, 3u), y_dtype = dtype_of(p.dtypes, 4u);
  for (uint index = gl_GlobalInvocationID.x; index < total; index += stride) {
    const uint row = index / p.out_features, column = index % p.out_features;
    const uint x_row = p.base[0] + row * p.in_features, w_row = p.base[1] + column * p.in_features;
    precise float sum = 0.0, compensation = 0.0;
    for (uint k = 0u; k < p.in_features; ++k) {
      precise const float term = LOAD(x, x_dtype, x_row + k) * decode_e4m3(weight_byte(w_row + k)) - compensation;
      precise const float next = sum + term;
      compensation = (next - sum) - term;
      sum = next;
    }
    float result = sum * scale[p.base[2] + column];
    if (p.has_bias != 0u) result += LOAD(bias, bias_dtype, p.base[3] + column);
    STORE(y, y_dtype, p.base[4] + row * p.y_row_stride + column, result);
  }
}
