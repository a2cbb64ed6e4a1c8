#pragma once
// Eight-lane AVX2 helpers shared by the hand-written cpu kernels (attention tiles, the int8 GEMM): loading
// f32/bf16/f16 values as f32, and reducing a vector. Include it after `#pragma GCC target("avx2,fma,f16c")`
// and <immintrin.h>; only call it once the CPU is known to have those (the kernels' registration checks).
#include <cstdint>

#include "core/dtype.h"

namespace x2v::cpu {

// Eight values from `source` (of `dtype`) starting at `index`, as f32.
inline __m256 load8_as_f32(const void* source, DType dtype, int64_t index) {
  const auto* half_words = static_cast<const uint16_t*>(source) + index;
  switch (dtype) {
    case DType::bf16:
      return _mm256_castsi256_ps(_mm256_slli_epi32(
          _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(half_words))), 16));
    case DType::f16:
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(half_words)));
    default:
      return _mm256_loadu_ps(static_cast<const float*>(source) + index);
  }
}

// One value, as f32 (the tails the eight-lane loads leave).
inline float load1_as_f32(const void* source, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::bf16:
      return bf16_to_float(static_cast<const uint16_t*>(source)[index]);
    case DType::f16:
      return _cvtsh_ss(static_cast<const uint16_t*>(source)[index]);
    default:
      return static_cast<const float*>(source)[index];
  }
}

inline float horizontal_max(__m256 value) {
  __m128 half = _mm_max_ps(_mm256_castps256_ps128(value), _mm256_extractf128_ps(value, 1));
  half = _mm_max_ps(half, _mm_movehl_ps(half, half));
  half = _mm_max_ss(half, _mm_movehdup_ps(half));
  return _mm_cvtss_f32(half);
}

inline float horizontal_sum(__m256 value) {
  __m128 half = _mm_add_ps(_mm256_castps256_ps128(value), _mm256_extractf128_ps(value, 1));
  half = _mm_add_ps(half, _mm_movehl_ps(half, half));
  half = _mm_add_ss(half, _mm_movehdup_ps(half));
  return _mm_cvtss_f32(half);
}

}  // namespace x2v::cpu
