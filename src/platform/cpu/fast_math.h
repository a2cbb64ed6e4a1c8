#pragma once
// Vectorizable float math for the cpu kernels: plain arithmetic only (no libm calls), so loops under
// `#pragma omp simd` vectorize (for AVX2 + FMA inside X2V_CPU_MULTIVERSION copies). exp is accurate to
// ~2 ulp over the float range. always_inline: each multiversioned copy must get its own code.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace x2v::cpu {

[[gnu::always_inline]] inline float fast_exp(float x) {
  // e^x = 2^n * e^r with n = round(x / ln2), |r| <= ln2/2; e^r by a degree-6 polynomial.
  x = std::max(std::min(x, 88.7f), -87.3f);
  // Round to nearest by the 1.5 * 2^23 trick (|x / ln2| < 2^22), which vectorizes unlike nearbyint.
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;
  const float r = std::fma(n, -0.693145751953125f, std::fma(n, -1.428606765330187045e-06f, x));
  float p = 1.0f / 720.0f;
  p = std::fma(p, r, 1.0f / 120.0f);
  p = std::fma(p, r, 1.0f / 24.0f);
  p = std::fma(p, r, 1.0f / 6.0f);
  p = std::fma(p, r, 0.5f);
  p = std::fma(p, r, 1.0f);
  p = std::fma(p, r, 1.0f);
  // The low bits of `shifted` hold n + 2^22: the exponent field without a float-to-int conversion
  // (which would stop the loop from vectorizing under strict trapping math).
  const int32_t exponent = (std::bit_cast<int32_t>(shifted) - 0x4B400000 + 127) << 23;
  return p * std::bit_cast<float>(exponent);
}

[[gnu::always_inline]] inline float fast_tanh(float x) {
  // tanh(x) = 1 - 2 / (e^(2x) + 1); saturates cleanly since fast_exp clamps its argument.
  return 1.0f - 2.0f / (fast_exp(2.0f * x) + 1.0f);
}

[[gnu::always_inline]] inline float gelu_tanh(float x) {
  const float inner = 0.7978845608028654f * (x + 0.044715f * x * x * x);  // sqrt(2/pi) * (...)
  return 0.5f * x * (1.0f + fast_tanh(inner));
}

[[gnu::always_inline]] inline float silu(float x) {
  return x / (1.0f + fast_exp(-x));
}

}  // namespace x2v::cpu
