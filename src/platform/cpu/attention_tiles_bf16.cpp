// The AVX512-BF16 tiles of the cpu flash attention (see attention_tiles.h): bf16 queries, keys and values
// are multiplied as they are with vdpbf16ps (pairs of bf16 products summed into f32 lanes), the scores are
// scaled and soft-maxed in f32, and the probabilities are rounded to bf16 for the P V product, as GPU
// flash attention does. The instructions are enabled for this file's own functions only (push/pop below,
// after every header), so no inline function shared with other files is compiled for AVX-512; the caller
// checks the CPU (bf16_tiles_available) before anything here runs.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "core/error.h"
#include "platform/cpu/attention_tiles.h"
#include "platform/cpu/cpu_features.h"

namespace x2v::cpu_attention {

bool bf16_tiles_available() {
  // X2V_CPU_ISA below avx512_bf16 keeps the AVX2 tiles, as it keeps oneDNN off its bf16 kernels.
  const cpu::IsaCap cap = cpu::isa_cap();
  if (cap != cpu::IsaCap::none && cap != cpu::IsaCap::avx512_bf16 && cap != cpu::IsaCap::amx) return false;
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,fma")
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() values, which -Wmaybe-uninitialized flags
// inside its own headers once they are inlined here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

constexpr float kNegativeInfinityBf16Tiles = -std::numeric_limits<float>::infinity();

// 2^x for x <= 0, as the AVX2 tiles compute it (same polynomial), 16 lanes.
inline __m512 exp2_nonpositive16(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-127.0f), x);
  const __m512 whole = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 fraction = _mm512_sub_ps(x, whole);
  __m512 poly = _mm512_set1_ps(kExp2Polynomial[0]);
  for (int i = 1; i < 7; ++i) poly = _mm512_fmadd_ps(poly, fraction, _mm512_set1_ps(kExp2Polynomial[i]));
  const __m512i exponent =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(whole), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(poly, _mm512_castsi512_ps(exponent));
}

inline __m512bh as_bh(__m512i bits) {
  return reinterpret_cast<__m512bh>(bits);
}

inline int32_t load_pair(const uint16_t* pair) {
  int32_t bits;
  std::memcpy(&bits, pair, sizeof(bits));
  return bits;
}

// scores[r][0..16) = sum_k queries[r][k] * keys[k][0..16) for kRowBlock rows; one key panel is
// [head_dim / 2][16 keys][2] bf16.
inline void score_block_bf16(const uint16_t* queries, int64_t dim, const uint16_t* panel, float* scores) {
  __m512 sum[kRowBlock];
  for (int r = 0; r < kRowBlock; ++r) sum[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < dim; k += 2) {
    const __m512i keys = _mm512_load_si512(panel + k * kPanelWidth);
#pragma GCC unroll 6
    for (int r = 0; r < kRowBlock; ++r)
      sum[r] =
          _mm512_dpbf16_ps(sum[r], as_bh(_mm512_set1_epi32(load_pair(queries + r * dim + k))), as_bh(keys));
  }
  for (int r = 0; r < kRowBlock; ++r) _mm512_store_ps(scores + r * kKeyTile, sum[r]);
}

// accumulator[r][0..16) = accumulator * rescale[r] + sum_j probs[r][j] * values[j][0..16); probs are the
// bf16 rows (kKeyTile apart, in uint16 units 2 * kKeyTile) and one value panel is [keys / 2][16][2] bf16.
inline void value_block_bf16(const uint16_t* probs, int64_t probs_stride, const uint16_t* values,
                             int64_t pairs, const float* rescale, float* accumulator, int64_t padded_dim) {
  __m512 sum[kRowBlock];
  for (int r = 0; r < kRowBlock; ++r) sum[r] = _mm512_setzero_ps();
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const __m512i panel = _mm512_load_si512(values + pair * 2 * kPanelWidth);
#pragma GCC unroll 6
    for (int r = 0; r < kRowBlock; ++r)
      sum[r] = _mm512_dpbf16_ps(
          sum[r], as_bh(_mm512_set1_epi32(load_pair(probs + r * probs_stride + 2 * pair))), as_bh(panel));
  }
  for (int r = 0; r < kRowBlock; ++r) {
    float* out = accumulator + r * padded_dim;
    _mm512_store_ps(out, _mm512_fmadd_ps(_mm512_load_ps(out), _mm512_set1_ps(rescale[r]), sum[r]));
  }
}

// One row: scores * factor (+ bias * log2 e) into the log2 domain, the online softmax update, and the
// probabilities rounded to bf16 in place over the row's first half. Returns the accumulator's factor.
inline float softmax_row_bf16(float* scores, int64_t count, int64_t padded, float factor, const float* bias,
                              float& row_max, float& row_sum) {
  constexpr float kLog2E = 1.4426950408889634f;
  const __m512 scale = _mm512_set1_ps(factor);
  __m512 maximum = _mm512_set1_ps(kNegativeInfinityBf16Tiles);
  for (int64_t j = 0; j < padded; j += kPanelWidth) {
    __m512 value = _mm512_mul_ps(_mm512_load_ps(scores + j), scale);
    if (bias != nullptr) {
      const __mmask16 valid = count - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (count - j)) - 1);
      value =
          _mm512_mask_fmadd_ps(_mm512_maskz_loadu_ps(valid, bias + j), valid, _mm512_set1_ps(kLog2E), value);
    }
    // Keys past `count` are padding.
    if (j + kPanelWidth > count) {
      const __mmask16 valid = count > j ? __mmask16((1u << (count - j)) - 1) : __mmask16(0);
      value = _mm512_mask_mov_ps(_mm512_set1_ps(kNegativeInfinityBf16Tiles), valid, value);
    }
    _mm512_store_ps(scores + j, value);
    maximum = _mm512_max_ps(maximum, value);
  }
  const float tile_max = _mm512_reduce_max_ps(maximum);
  const float new_max = row_max > tile_max ? row_max : tile_max;
  const __m512 shift = _mm512_set1_ps(new_max);
  __m512 sum = _mm512_setzero_ps();
  auto* probs = reinterpret_cast<uint16_t*>(scores);
  for (int64_t j = 0; j < padded; j += kPanelWidth) {
    const __m512 p = exp2_nonpositive16(_mm512_sub_ps(_mm512_load_ps(scores + j), shift));
    const __m256bh rounded = _mm512_cvtneps_pbh(p);
    // The sum takes the rounded probabilities, the ones P V uses, so the normalization matches them.
    const __m512 kept =
        _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(reinterpret_cast<__m256i>(rounded)), 16));
    sum = _mm512_add_ps(sum, kept);
    // In place: 16 bf16 (32 bytes) written at byte 2j, below the 64 bytes just read at 4j.
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(probs + j), reinterpret_cast<__m256i>(rounded));
  }
  const float rescale = row_max == kNegativeInfinityBf16Tiles ? 0.0f : std::exp2(row_max - new_max);
  row_sum = row_sum * rescale + _mm512_reduce_add_ps(sum);
  row_max = new_max;
  return rescale;
}

}  // namespace

void pack_key_panels_bf16(const uint16_t* keys, int64_t row_stride, int64_t head_dim, int64_t first,
                          int64_t last, uint16_t* panels) {
  const int64_t padded_last = (last + kPanelWidth - 1) / kPanelWidth * kPanelWidth;
  for (int64_t key = first; key < padded_last; ++key) {
    uint16_t* panel = panels + (key / kPanelWidth) * kPanelWidth * head_dim + (key % kPanelWidth) * 2;
    const uint16_t* row = keys + key * row_stride;
    for (int64_t k = 0; k < head_dim; k += 2) {
      panel[k * kPanelWidth] = key < last ? row[k] : 0;
      panel[k * kPanelWidth + 1] = key < last ? row[k + 1] : 0;
    }
  }
}

void pack_value_panels_bf16(const uint16_t* values, int64_t row_stride, int64_t head_dim, int64_t first,
                            int64_t last, int64_t panel_rows, uint16_t* panels) {
  const int64_t padded_dim = (head_dim + kPanelWidth - 1) / kPanelWidth * kPanelWidth;
  // Column panel c holds [panel_rows / 2][16 columns][2]: key j's column goes to pair j / 2, slot j % 2.
  for (int64_t key = first; key < last; ++key) {
    const uint16_t* row = values + key * row_stride;
    for (int64_t column = 0; column < padded_dim; ++column) {
      uint16_t* panel = panels + (column / kPanelWidth) * panel_rows * kPanelWidth;
      panel[(key / 2) * 2 * kPanelWidth + (column % kPanelWidth) * 2 + key % 2] =
          column < head_dim ? row[column] : 0;
    }
  }
}

void zero_value_panel_rows_bf16(int64_t head_dim, int64_t first, int64_t last, int64_t panel_rows,
                                uint16_t* panels) {
  const int64_t padded_dim = (head_dim + kPanelWidth - 1) / kPanelWidth * kPanelWidth;
  for (int64_t key = first; key < last; ++key)
    for (int64_t column = 0; column < padded_dim; ++column)
      panels[(column / kPanelWidth) * panel_rows * kPanelWidth + (key / 2) * 2 * kPanelWidth +
             (column % kPanelWidth) * 2 + key % 2] = 0;
}

void attend_key_tile_bf16(const TileShape& shape, const uint16_t* queries, const uint16_t* key_panels,
                          const uint16_t* value_panels, int64_t first, int64_t count, float score_factor,
                          TileBuffers& tile, const ScoreBias& bias) {
  X2V_ASSERT(count > 0 && count <= kKeyTile && first % kKeyTile == 0 && shape.rows % kRowBlock == 0 &&
                 shape.head_dim % 2 == 0,
             "attention", "bad bf16 key tile ", first, "+", count, " for ", shape.rows, " rows");
  const int64_t dim = shape.head_dim;
  const int64_t padded_keys = (count + kPanelWidth - 1) / kPanelWidth * kPanelWidth;
  const uint16_t* tile_keys = key_panels + first * dim;
  for (int64_t key = 0; key < padded_keys; key += kPanelWidth)
    for (int64_t row = 0; row < shape.rows; row += kRowBlock)
      score_block_bf16(queries + row * dim, dim, tile_keys + key * dim, tile.scores + row * kKeyTile + key);
  for (int64_t row = 0; row < shape.rows; ++row) {
    const float* row_bias =
        bias.values != nullptr && row < bias.rows ? bias.values + row * bias.row_stride + first : nullptr;
    tile.rescale[row] = softmax_row_bf16(tile.scores + row * kKeyTile, count, padded_keys, score_factor,
                                         row_bias, tile.row_max[row], tile.row_sum[row]);
  }
  const auto* probs = reinterpret_cast<const uint16_t*>(tile.scores);
  const int64_t panel_stride = shape.key_count * kPanelWidth;
  const uint16_t* tile_values = value_panels + first * kPanelWidth;
  for (int64_t column = 0; column < shape.padded_dim; column += kPanelWidth) {
    const uint16_t* values = tile_values + (column / kPanelWidth) * panel_stride;
    for (int64_t row = 0; row < shape.rows; row += kRowBlock)
      value_block_bf16(probs + row * 2 * kKeyTile, 2 * kKeyTile, values, padded_keys / 2, tile.rescale + row,
                       tile.accumulator + row * shape.padded_dim + column, shape.padded_dim);
  }
}

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace x2v::cpu_attention
