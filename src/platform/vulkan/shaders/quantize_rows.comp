#version 450
#extension GL_GOOGLE_include_directive : require
// Per-token int8 quantization of x [rows, width] (f32, bf16 or f16) for the W8A8 matmul, as the cpu's
// quantize_row_int8 does it: scale = amax / 127, q = round-half-even(x / scale) clamped to [-128, 127]; a row
// of zeros gets scale 0, a row with a NaN or an infinity scale NaN, both with q = 0. One workgroup per row
// (grid-stride), the amax reduced through shared memory, q packed four to a 32-bit word (width % 4 == 0).
#include "dtypes.glsl"
layout(local_size_x = 64) in;
INPUT(0, x);
layout(std430, binding = 1) writeonly buffer Q { uint q_words[]; };
layout(std430, binding = 2) writeonly buffer Scales { float scales[]; };
layout(push_constant) uniform Push {
  uint base[6];  // binding 1 in words
  uint dtypes;
  uint rows, width;
} p;

const uint kGroupSize = 64u;

// a / b rounded as IEEE division rounds it. Drivers may divide through a reciprocal (lavapipe does), a few
// ulps off, which moves quotients near half-way between integers to the other integer: one Newton step on the
// exact residual (fma) corrects the quotient.
float divide(float a, float b) {
  precise const float quotient = a / b;
  precise const float residual = fma(-quotient, b, a);
  precise const float corrected = fma(residual, 1.0 / b, quotient);
  return corrected;
}
shared float group_amax[kGroupSize];
shared uint group_nonfinite[kGroupSize];

void main() {
  const uint local = gl_LocalInvocationID.x, x_dtype = dtype_of(p.dtypes, 0u), words = p.width / 4u;
  for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
    const uint x_row = p.base[0] + row * p.width;
    float amax = 0.0;
    uint nonfinite = 0u;
    for (uint k = local; k < p.width; k += kGroupSize) {
      const float value = LOAD(x, x_dtype, x_row + k);
      amax = max(amax, abs(value));
      nonfinite |= (isnan(value) || isinf(value)) ? 1u : 0u;
    }
    group_amax[local] = amax;
    group_nonfinite[local] = nonfinite;
    barrier();
    for (uint half_size = kGroupSize / 2u; half_size > 0u; half_size /= 2u) {
      if (local < half_size) {
        group_amax[local] = max(group_amax[local], group_amax[local + half_size]);
        group_nonfinite[local] |= group_nonfinite[local + half_size];
      }
      barrier();
    }
    const bool finite = group_nonfinite[0] == 0u;
    const float row_amax = group_amax[0];
    const float scale = finite ? divide(row_amax, 127.0) : uintBitsToFloat(0x7fc00000u);
    const bool zero = !finite || row_amax == 0.0;
    for (uint word = local; word < words; word += kGroupSize) {
      uint packed = 0u;
      for (uint lane = 0u; lane < 4u; ++lane) {
        const float value = LOAD(x, x_dtype, x_row + 4u * word + lane);
        const int q = zero ? 0 : int(clamp(roundEven(divide(value, scale)), -128.0, 127.0));
        packed |= (uint(q) & 255u) << (8u * lane);
      }
      q_words[p.base[1] + row * words + word] = packed;
    }
    if (local == 0u) scales[p.base[2] + row] = zero && finite ? 0.0 : scale;
    barrier();  // group_amax is reused by the next row
  }
}
