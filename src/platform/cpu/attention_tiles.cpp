#include "platform/cpu/attention_tiles.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"

// The tile code is AVX2 + FMA + F16C; a Release build already targets x86-64-v3, other builds get the
// target here (registration checks the CPU, in attention.cpp, before any of it runs).
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#pragma GCC target("avx2,fma,f16c")
#endif
#include <immintrin.h>

#include "platform/cpu/avx2_lanes.h"

namespace x2v::cpu_attention {
namespace {

using cpu::horizontal_max;
using cpu::horizontal_sum;
using cpu::load1_as_f32;
using cpu::load8_as_f32;

constexpr float kNegativeInfinity = -std::numeric_limits<float>::infinity();

// 2^x for x <= 0 (the softmax only needs that range), relative error < 1e-7. x = n + f with
// n = round(x), |f| <= 0.5; 2^f by a degree-6 polynomial fitted for relative error on [-0.5, 0.5];
// 2^n through the exponent field. x < -126.5 gives exactly 0 (n = -127 makes the exponent field 0);
// NaN stays NaN (max keeps its second operand when one is NaN).
inline __m256 exp2_nonpositive(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-127.0f), x);
  const __m256 whole = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 fraction = _mm256_sub_ps(x, whole);
  __m256 poly = _mm256_set1_ps(kExp2Polynomial[0]);
  for (int i = 1; i < 7; ++i) poly = _mm256_fmadd_ps(poly, fraction, _mm256_set1_ps(kExp2Polynomial[i]));
  const __m256i exponent =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(whole), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(poly, _mm256_castsi256_ps(exponent));
}

// f32 -> bf16 bits, nearest even, NaN kept quiet (as float_to_bf16 does).
inline __m128i to_bf16(__m256 value) {
  const __m256i bits = _mm256_castps_si256(value);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
  const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(value, value, _CMP_UNORD_Q));
  rounded = _mm256_blendv_epi8(rounded, quiet_nan, is_nan);
  const __m256i packed = _mm256_packus_epi32(rounded, rounded);  // per 128-bit lane: 4 words, twice
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

// scores[r][0..16) = sum_k queries[r][k] * panel[k][0..16) for kRowBlock rows.
template <int kDim>
inline void score_block(const float* queries, int64_t head_dim, const float* panel, float* scores) {
  const int64_t dim = kDim ? kDim : head_dim;
  __m256 sum[kRowBlock][2];
  for (auto& row : sum) row[0] = row[1] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < dim; ++k) {
    const __m256 low = _mm256_load_ps(panel + k * kPanelWidth);
    const __m256 high = _mm256_load_ps(panel + k * kPanelWidth + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kRowBlock; ++r) {
      const __m256 query = _mm256_broadcast_ss(queries + r * dim + k);
      sum[r][0] = _mm256_fmadd_ps(query, low, sum[r][0]);
      sum[r][1] = _mm256_fmadd_ps(query, high, sum[r][1]);
    }
  }
  for (int r = 0; r < kRowBlock; ++r) {
    _mm256_store_ps(scores + r * kKeyTile, sum[r][0]);
    _mm256_store_ps(scores + r * kKeyTile + 8, sum[r][1]);
  }
}

// accumulator[r][0..16) = accumulator * rescale[r] + sum_j probs[r][j] * values[j][0..16) for kRowBlock
// rows and one value panel.
inline void value_block(const float* probs, const float* values, int64_t count, const float* rescale,
                        float* accumulator, int64_t padded_dim) {
  __m256 sum[kRowBlock][2];
  for (auto& row : sum) row[0] = row[1] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t j = 0; j < count; ++j) {
    const __m256 low = _mm256_load_ps(values + j * kPanelWidth);
    const __m256 high = _mm256_load_ps(values + j * kPanelWidth + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kRowBlock; ++r) {
      const __m256 prob = _mm256_broadcast_ss(probs + r * kKeyTile + j);
      sum[r][0] = _mm256_fmadd_ps(prob, low, sum[r][0]);
      sum[r][1] = _mm256_fmadd_ps(prob, high, sum[r][1]);
    }
  }
  for (int r = 0; r < kRowBlock; ++r) {
    float* out = accumulator + r * padded_dim;
    const __m256 factor = _mm256_set1_ps(rescale[r]);
    _mm256_store_ps(out, _mm256_fmadd_ps(_mm256_load_ps(out), factor, sum[r][0]));
    _mm256_store_ps(out + 8, _mm256_fmadd_ps(_mm256_load_ps(out + 8), factor, sum[r][1]));
  }
}

// Online softmax step for one row of scores (log2 domain): updates the running max and sum, turns the
// scores into exp2(score - max) in place and returns the factor the accumulator must be scaled by.
inline float softmax_row(float* scores, int64_t count, int64_t padded, float& row_max, float& row_sum) {
  for (int64_t j = count; j < padded; ++j) scores[j] = kNegativeInfinity;
  __m256 max0 = _mm256_set1_ps(kNegativeInfinity), max1 = max0;
  for (int64_t j = 0; j < padded; j += kPanelWidth) {
    max0 = _mm256_max_ps(max0, _mm256_load_ps(scores + j));
    max1 = _mm256_max_ps(max1, _mm256_load_ps(scores + j + 8));
  }
  const float new_max = std::max(row_max, horizontal_max(_mm256_max_ps(max0, max1)));
  const __m256 shift = _mm256_set1_ps(new_max);
  __m256 sum0 = _mm256_setzero_ps(), sum1 = sum0;
  for (int64_t j = 0; j < padded; j += kPanelWidth) {
    const __m256 p0 = exp2_nonpositive(_mm256_sub_ps(_mm256_load_ps(scores + j), shift));
    const __m256 p1 = exp2_nonpositive(_mm256_sub_ps(_mm256_load_ps(scores + j + 8), shift));
    _mm256_store_ps(scores + j, p0);
    _mm256_store_ps(scores + j + 8, p1);
    sum0 = _mm256_add_ps(sum0, p0);
    sum1 = _mm256_add_ps(sum1, p1);
  }
  // exp2(-inf) on the first tile is 0: the zeroed accumulator and sum start fresh.
  const float factor = row_max == kNegativeInfinity ? 0.0f : std::exp2(row_max - new_max);
  row_sum = row_sum * factor + horizontal_sum(_mm256_add_ps(sum0, sum1));
  row_max = new_max;
  return factor;
}

// scores[r][j] += bias[r][first + j] * log2(e) for the bias rows and the tile's `count` keys (the scores
// are in the log2 domain).
inline void add_score_bias(const ScoreBias& bias, int64_t first, int64_t count, float* scores) {
  constexpr float kLog2E = 1.4426950408889634f;
  const __m256 factor = _mm256_set1_ps(kLog2E);
  for (int64_t row = 0; row < bias.rows; ++row) {
    const float* source = bias.values + row * bias.row_stride + first;
    float* target = scores + row * kKeyTile;
    int64_t j = 0;
    for (; j + 8 <= count; j += 8)
      _mm256_store_ps(target + j,
                      _mm256_fmadd_ps(_mm256_loadu_ps(source + j), factor, _mm256_load_ps(target + j)));
    for (; j < count; ++j) target[j] += source[j] * kLog2E;
  }
}

template <int kDim>
void attend_key_tile_impl(const TileShape& shape, const float* key_panels, const float* value_panels,
                          int64_t first, int64_t count, TileBuffers& tile, const ScoreBias& bias) {
  const int64_t dim = kDim ? kDim : shape.head_dim;
  const int64_t padded_keys = round_up(count, kPanelWidth);
  const float* tile_keys = key_panels + first * dim;  // `first` is a multiple of kPanelWidth
  for (int64_t key = 0; key < padded_keys; key += kPanelWidth)
    for (int64_t row = 0; row < shape.rows; row += kRowBlock)
      score_block<kDim>(tile.queries + row * dim, dim, tile_keys + key * dim,
                        tile.scores + row * kKeyTile + key);
  if (bias.values) add_score_bias(bias, first, count, tile.scores);
  for (int64_t row = 0; row < shape.rows; ++row)
    tile.rescale[row] =
        softmax_row(tile.scores + row * kKeyTile, count, padded_keys, tile.row_max[row], tile.row_sum[row]);
  // Value panel outer: its count x 16 slice stays in L1 while every row block uses it.
  const int64_t panel_stride = shape.key_count * kPanelWidth;
  const float* tile_values = value_panels + first * kPanelWidth;
  for (int64_t column = 0; column < shape.padded_dim; column += kPanelWidth) {
    const float* values = tile_values + (column / kPanelWidth) * panel_stride;
    for (int64_t row = 0; row < shape.rows; row += kRowBlock)
      value_block(tile.scores + row * kKeyTile, values, count, tile.rescale + row,
                  tile.accumulator + row * shape.padded_dim + column, shape.padded_dim);
  }
}

}  // namespace

void load_row(const void* source, DType dtype, int64_t count, float scale, float* target) {
  const __m256 factor = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(target + i, _mm256_mul_ps(load8_as_f32(source, dtype, i), factor));
  for (; i < count; ++i) target[i] = load1_as_f32(source, dtype, i) * scale;
}

void store_row(const float* source, float scale, int64_t count, DType dtype, void* target) {
  const __m256 factor = _mm256_set1_ps(scale);
  int64_t i = 0;
  switch (dtype) {
    case DType::bf16: {
      auto* out = static_cast<uint16_t*>(target);
      for (; i + 8 <= count; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                         to_bf16(_mm256_mul_ps(_mm256_loadu_ps(source + i), factor)));
      for (; i < count; ++i) out[i] = float_to_bf16(source[i] * scale);
      break;
    }
    case DType::f16: {
      auto* out = static_cast<uint16_t*>(target);
      for (; i + 8 <= count; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                         _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(source + i), factor),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      for (; i < count; ++i) out[i] = float_to_f16(source[i] * scale);
      break;
    }
    default: {
      auto* out = static_cast<float*>(target);
      for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(source + i), factor));
      for (; i < count; ++i) out[i] = source[i] * scale;
    }
  }
}

void pack_key_panels(const void* keys, DType dtype, int64_t row_stride, int64_t head_dim, int64_t first,
                     int64_t last, float* panels) {
  X2V_ASSERT(first % kPanelWidth == 0, "attention", "key block starts at ", first);
  const size_t element = dtype_size(dtype);
  std::vector<float> row(head_dim);
  const float* row_values = row.data();
  for (int64_t key = first; key < last; ++key) {
    load_row(static_cast<const char*>(keys) + key * row_stride * element, dtype, head_dim, 1.0f, row.data());
    float* panel = panels + (key / kPanelWidth) * kPanelWidth * head_dim + key % kPanelWidth;
    for (int64_t k = 0; k < head_dim; ++k) panel[k * kPanelWidth] = row_values[k];
  }
  const int64_t padded_last = round_up(last, kPanelWidth);
  for (int64_t key = last; key < padded_last; ++key) {
    float* panel = panels + (key / kPanelWidth) * kPanelWidth * head_dim + key % kPanelWidth;
    for (int64_t k = 0; k < head_dim; ++k) panel[k * kPanelWidth] = 0.0f;
  }
}

void pack_value_panels(const void* values, DType dtype, int64_t row_stride, int64_t head_dim, int64_t first,
                       int64_t last, int64_t panel_rows, float* panels) {
  const size_t element = dtype_size(dtype);
  const int64_t padded_dim = round_up(head_dim, kPanelWidth);
  std::vector<float> row(padded_dim, 0.0f);
  for (int64_t key = first; key < last; ++key) {
    load_row(static_cast<const char*>(values) + key * row_stride * element, dtype, head_dim, 1.0f,
             row.data());
    for (int64_t c = 0; c < padded_dim; c += kPanelWidth)
      std::memcpy(panels + c * panel_rows + key * kPanelWidth, row.data() + c, kPanelWidth * sizeof(float));
  }
}

void start_tile(const TileShape& shape, TileBuffers& tile) {
  std::fill(tile.row_max, tile.row_max + shape.rows, kNegativeInfinity);
  std::fill(tile.row_sum, tile.row_sum + shape.rows, 0.0f);
  std::fill(tile.accumulator, tile.accumulator + shape.rows * shape.padded_dim, 0.0f);
}

void attend_key_tile(const TileShape& shape, const float* key_panels, const float* value_panels,
                     int64_t first, int64_t count, TileBuffers& tile, const ScoreBias& bias) {
  X2V_ASSERT(count > 0 && count <= kKeyTile && first % kKeyTile == 0 && shape.rows % kRowBlock == 0 &&
                 bias.rows <= shape.rows,
             "attention", "bad key tile ", first, "+", count, " for ", shape.rows, " rows");
  switch (shape.head_dim) {
    case 64:
      attend_key_tile_impl<64>(shape, key_panels, value_panels, first, count, tile, bias);
      break;
    case 128:
      attend_key_tile_impl<128>(shape, key_panels, value_panels, first, count, tile, bias);
      break;
    default:
      attend_key_tile_impl<0>(shape, key_panels, value_panels, first, count, tile, bias);
  }
}

}  // namespace x2v::cpu_attention
