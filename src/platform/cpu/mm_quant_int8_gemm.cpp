#include "platform/cpu/mm_quant_int8_gemm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

// AVX2 + FMA + F16C code; a Release build already targets x86-64-v3, other builds get the target here
// (registration checks the CPU, in mm_quant_int8.cpp, before any of it runs).
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#pragma GCC target("avx2,fma,f16c")
#endif
#include <immintrin.h>

#include "platform/cpu/avx2_lanes.h"

namespace x2v::cpu_int8 {
namespace {

using cpu::horizontal_max;
using cpu::load1_as_f32;
using cpu::load8_as_f32;

// Blocking: a weight block of 128 columns x 1536 k (192 KiB of int8) stays in L2 while each activation
// panel (6 rows x 1536 k as int16 pairs, 18 KiB) streams through L1 against it; the best of the few
// (columns, k) blocks tried on a Zen3 core at 2304x1536x1536, within 5% of the in-cache speed. Longer K
// (the FFN down projection, 8960) is cut into blocks of 1536 whose int32 partial sums wait in a
// per-thread buffer.
constexpr int64_t kColumnBlock = 128;  // a multiple of kPanelColumns
constexpr int64_t kPairBlock = 768;
// Below this many multiply-adds one thread does it all (waking the team costs more).
constexpr int64_t kParallelWork = int64_t{1} << 21;

inline int32_t pair_word(int32_t low, int32_t high) {
  return static_cast<int32_t>((static_cast<uint32_t>(low) & 0xffffu) | (static_cast<uint32_t>(high) << 16));
}

// One row's scale, as quantize_row_int8 defines it: amax / 127, 0 for a row of zeros, NaN when a value
// is not finite (the row is then all zero).
float row_scale_of(const void* x, DType dtype, int64_t base, int64_t k) {
  const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 largest = _mm256_set1_ps(3.402823466e38f);
  __m256 amax = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const __m256 magnitude = _mm256_and_ps(load8_as_f32(x, dtype, base + i), sign_mask);
    amax = _mm256_max_ps(amax, magnitude);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(magnitude, largest, _CMP_NLE_UQ));  // NaN or infinite
  }
  float row_amax = horizontal_max(amax);
  bool finite = _mm256_movemask_ps(bad) == 0;
  for (; i < k; ++i) {
    const float value = load1_as_f32(x, dtype, base + i);
    row_amax = std::max(row_amax, std::fabs(value));
    finite = finite && std::isfinite(value);
  }
  if (!finite) return NAN;
  return row_amax == 0.0f ? 0.0f : row_amax / 127.0f;
}

// Eight q values from x[base + index ...]: division (not a reciprocal product) and round-to-nearest-even
// conversion, the exact q of the scalar definition, clamped to [-128, 127].
inline __m256i quantize8(const void* x, DType dtype, int64_t index, __m256 divisor) {
  const __m256i q = _mm256_cvtps_epi32(_mm256_div_ps(load8_as_f32(x, dtype, index), divisor));
  return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-128)), _mm256_set1_epi32(127));
}

inline int32_t quantize1(const void* x, DType dtype, int64_t index, float row_scale) {
  const float rounded = std::nearbyint(load1_as_f32(x, dtype, index) / row_scale);
  return static_cast<int32_t>(std::min(127.0f, std::max(-128.0f, rounded)));
}

// One row: the scale and the int16 pairs, written to every kPanelRows-th word of `target`.
void quantize_row(const void* x, DType dtype, int64_t row, int64_t k, int32_t* target, float* scale) {
  const int64_t base = row * k;
  const float row_scale = row_scale_of(x, dtype, base, k);
  *scale = row_scale;
  const int64_t pairs = pair_count(k);
  if (!(row_scale > 0.0f)) {  // zeros, or not finite: all zero
    for (int64_t p = 0; p < pairs; ++p) target[p * kPanelRows] = 0;
    return;
  }
  const __m256 divisor = _mm256_set1_ps(row_scale);
  int64_t p = 0;
  alignas(32) int32_t words[8];
  for (; 2 * p + 16 <= k; p += 8) {
    const __m256i packed = _mm256_packs_epi32(quantize8(x, dtype, base + 2 * p, divisor),
                                              quantize8(x, dtype, base + 2 * p + 8, divisor));
    _mm256_store_si256(reinterpret_cast<__m256i*>(words), _mm256_permute4x64_epi64(packed, 0xD8));
    for (int j = 0; j < 8; ++j) target[(p + j) * kPanelRows] = words[j];
  }
  auto scalar_q = [&](int64_t index) -> int32_t {
    return index < k ? quantize1(x, dtype, base + index, row_scale) : 0;
  };
  for (; p < pairs; ++p) target[p * kPanelRows] = pair_word(scalar_q(2 * p), scalar_q(2 * p + 1));
}

// sums[6][16] (row stride `stride`) = (initial or 0) + A-panel x B-panel over `pairs` k pairs.
void multiply_tile(const int32_t* a, const int8_t* b, int64_t pairs, bool accumulate, int32_t* sums,
                   int64_t stride) {
  __m256i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (accumulate) {
    auto load = [&](int row, int half) {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + row * stride + half * 8));
    };
    c00 = load(0, 0), c01 = load(0, 1), c10 = load(1, 0), c11 = load(1, 1);
    c20 = load(2, 0), c21 = load(2, 1), c30 = load(3, 0), c31 = load(3, 1);
    c40 = load(4, 0), c41 = load(4, 1), c50 = load(5, 0), c51 = load(5, 1);
  } else {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_si256();
  }
  for (int64_t p = 0; p < pairs; ++p) {
    // 16 columns x (k, k+1) as int16: one vpmaddwd per 8 columns gives w[k] x[k] + w[k+1] x[k+1].
    const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
    const __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16)));
    __m256i x = _mm256_set1_epi32(a[0]);
    c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, b0));
    c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, b1));
    x = _mm256_set1_epi32(a[1]);
    c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, b0));
    c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, b1));
    x = _mm256_set1_epi32(a[2]);
    c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, b0));
    c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, b1));
    x = _mm256_set1_epi32(a[3]);
    c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(x, b0));
    c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(x, b1));
    x = _mm256_set1_epi32(a[4]);
    c40 = _mm256_add_epi32(c40, _mm256_madd_epi16(x, b0));
    c41 = _mm256_add_epi32(c41, _mm256_madd_epi16(x, b1));
    x = _mm256_set1_epi32(a[5]);
    c50 = _mm256_add_epi32(c50, _mm256_madd_epi16(x, b0));
    c51 = _mm256_add_epi32(c51, _mm256_madd_epi16(x, b1));
    a += kPanelRows;
    b += 2 * kPanelColumns;
  }
  auto store = [&](int row, int half, __m256i value) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + row * stride + half * 8), value);
  };
  store(0, 0, c00), store(0, 1, c01), store(1, 0, c10), store(1, 1, c11);
  store(2, 0, c20), store(2, 1, c21), store(3, 0, c30), store(3, 1, c31);
  store(4, 0, c40), store(4, 1, c41), store(5, 0, c50), store(5, 1, c51);
}

// Round to nearest even with NaN kept quiet: the same bits as convert_from_f32 (onednn_context.cpp).
inline __m128i to_bf16(__m256 value) {
  const __m256i bits = _mm256_castps_si256(value);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), odd), 16);
  const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(value, value, _CMP_UNORD_Q));
  const __m256i result = _mm256_blendv_epi8(rounded, quiet_nan, is_nan);
  return _mm_packus_epi32(_mm256_castsi256_si128(result), _mm256_extracti128_si256(result, 1));
}

inline void store8(__m256 value, void* y, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::bf16:
      _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(y) + index), to_bf16(value));
      return;
    case DType::f16:
      _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(y) + index),
                       _mm256_cvtps_ph(value, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      return;
    default:
      _mm256_storeu_ps(static_cast<float*>(y) + index, value);
  }
}

// The W8A8 epilogue of one tile: rows [row, row + rows) and columns [column, column + columns) of y.
void finish_tile(const int32_t* sums, int64_t stride, const Int8GemmArguments& g, int64_t row,
                 int64_t column) {
  const int64_t rows = std::min(kPanelRows, g.m - row), columns = std::min(kPanelColumns, g.n - column);
  alignas(32) float weight_scales[kPanelColumns] = {}, bias[kPanelColumns] = {};
  std::memcpy(weight_scales, g.weight_scales + column, columns * sizeof(float));
  if (g.bias) std::memcpy(bias, g.bias + column, columns * sizeof(float));
  for (int64_t r = 0; r < rows; ++r) {
    const __m256 activation_scale = _mm256_set1_ps(g.activation_scales[row + r]);
    const int64_t y_index = (row + r) * g.n + column;
    alignas(32) float values[kPanelColumns];
    for (int half = 0; half < 2; ++half) {
      const __m256 sum = _mm256_cvtepi32_ps(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + r * stride + half * 8)));
      const __m256 scale = _mm256_mul_ps(activation_scale, _mm256_load_ps(weight_scales + half * 8));
      const __m256 value = _mm256_fmadd_ps(sum, scale, _mm256_load_ps(bias + half * 8));
      if (columns == kPanelColumns)
        store8(value, g.y, g.y_dtype, y_index + half * 8);
      else
        _mm256_store_ps(values + half * 8, value);
    }
    if (columns < kPanelColumns)
      convert_elements(values, DType::f32, static_cast<char*>(g.y) + y_index * dtype_size(g.y_dtype),
                       g.y_dtype, columns);
  }
}

}  // namespace

void pack_weights(const int8_t* weight, int64_t n, int64_t k, int64_t row_stride, int8_t* packed) {
  const int64_t pairs = pair_count(k), panels = column_panel_count(n);
#pragma omp parallel for schedule(static) if (n * k >= kParallelWork)
  for (int64_t panel = 0; panel < panels; ++panel) {
    int8_t* target = packed + panel * pairs * 2 * kPanelColumns;
    for (int64_t p = 0; p < pairs; ++p)
      for (int64_t c = 0; c < kPanelColumns; ++c)
        for (int64_t e = 0; e < 2; ++e) {
          const int64_t row = panel * kPanelColumns + c, index = 2 * p + e;
          *target++ = row < n && index < k ? weight[row * row_stride + index] : 0;
        }
  }
}

void quantize_and_pack_activations(const void* x, DType x_dtype, int64_t m, int64_t k, int32_t* packed,
                                   float* scales) {
  const int64_t pairs = pair_count(k), panels = row_panel_count(m);
#pragma omp parallel for schedule(static) if (m * k >= kParallelWork / 16)
  for (int64_t panel = 0; panel < panels; ++panel) {
    int32_t* target = packed + panel * pairs * kPanelRows;
    for (int64_t r = 0; r < kPanelRows; ++r) {
      const int64_t row = panel * kPanelRows + r;
      if (row < m) {
        quantize_row(x, x_dtype, row, k, target + r, scales + row);
      } else {
        for (int64_t p = 0; p < pairs; ++p) target[p * kPanelRows + r] = 0;
      }
    }
  }
}

void quantize_activations(const void* x, DType x_dtype, int64_t m, int64_t k, int8_t* q, float* scales) {
#pragma omp parallel for schedule(static) if (m * k >= kParallelWork / 16)
  for (int64_t row = 0; row < m; ++row) {
    const int64_t base = row * k;
    const float row_scale = row_scale_of(x, x_dtype, base, k);
    scales[row] = row_scale;
    int8_t* target = q + base;
    if (!(row_scale > 0.0f)) {
      std::memset(target, 0, static_cast<size_t>(k));
      continue;
    }
    const __m256 divisor = _mm256_set1_ps(row_scale);
    int64_t i = 0;
    alignas(32) int32_t words[8];
    for (; i + 8 <= k; i += 8) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(words), quantize8(x, x_dtype, base + i, divisor));
      for (int j = 0; j < 8; ++j) target[i + j] = static_cast<int8_t>(words[j]);
    }
    for (; i < k; ++i) target[i] = static_cast<int8_t>(quantize1(x, x_dtype, base + i, row_scale));
  }
}

void apply_epilogue(const int32_t* sums, const Int8GemmArguments& g) {
  const int64_t row_panels = row_panel_count(g.m), column_panels = column_panel_count(g.n);
#pragma omp parallel for schedule(static) if (g.m * g.n >= kParallelWork / 16)
  for (int64_t tile = 0; tile < row_panels * column_panels; ++tile) {
    const int64_t row = (tile / column_panels) * kPanelRows, column = (tile % column_panels) * kPanelColumns;
    if (column + kPanelColumns <= g.n) {
      finish_tile(sums + row * g.n + column, g.n, g, row, column);
      continue;
    }
    // The last columns: a zero-padded copy, so finish_tile's 16-wide loads stay inside.
    alignas(32) int32_t padded[kPanelRows * kPanelColumns] = {};
    for (int64_t r = 0; r < std::min(kPanelRows, g.m - row); ++r)
      std::memcpy(padded + r * kPanelColumns, sums + (row + r) * g.n + column,
                  static_cast<size_t>(g.n - column) * sizeof(int32_t));
    finish_tile(padded, kPanelColumns, g, row, column);
  }
}

int64_t int32_scratch_words(int64_t m, int64_t, int64_t k, int threads) {
  if (pair_count(k) <= kPairBlock) return 0;
  return static_cast<int64_t>(threads) * row_panel_count(m) * kPanelRows * kColumnBlock;
}

void int8_gemm(const Int8GemmArguments& g, int32_t* scratch) {
  const int64_t pairs = pair_count(g.k), row_panels = row_panel_count(g.m);
  const int64_t panels_per_block = kColumnBlock / kPanelColumns;
  const int64_t column_blocks = (column_panel_count(g.n) + panels_per_block - 1) / panels_per_block;
  const int64_t pair_blocks = (pairs + kPairBlock - 1) / kPairBlock;
  const bool partial = pair_blocks > 1;
  const bool parallel = g.m * g.n * g.k >= kParallelWork;
#pragma omp parallel if (parallel)
  {
    int32_t* thread_sums =
        partial ? scratch + omp_get_thread_num() * row_panels * kPanelRows * kColumnBlock : nullptr;
    alignas(32) int32_t tile[kPanelRows * kPanelColumns];
#pragma omp for schedule(dynamic)
    for (int64_t block = 0; block < column_blocks; ++block) {
      const int64_t first_panel = block * panels_per_block;
      const int64_t last_panel = std::min(column_panel_count(g.n), first_panel + panels_per_block);
      for (int64_t pair_block = 0; pair_block < pair_blocks; ++pair_block) {
        const int64_t first_pair = pair_block * kPairBlock,
                      block_pairs = std::min(kPairBlock, pairs - first_pair);
        const bool last = pair_block + 1 == pair_blocks;
        for (int64_t row_panel = 0; row_panel < row_panels; ++row_panel) {
          const int32_t* a = g.activations + (row_panel * pairs + first_pair) * kPanelRows;
          for (int64_t panel = first_panel; panel < last_panel; ++panel) {
            const int8_t* b = g.weights + (panel * pairs + first_pair) * 2 * kPanelColumns;
            int32_t* sums = tile;
            int64_t stride = kPanelColumns;
            if (partial) {
              sums =
                  thread_sums + row_panel * kPanelRows * kColumnBlock + (panel - first_panel) * kPanelColumns;
              stride = kColumnBlock;
            }
            multiply_tile(a, b, block_pairs, pair_block > 0, sums, stride);
            if (last) finish_tile(sums, stride, g, row_panel * kPanelRows, panel * kPanelColumns);
          }
        }
      }
    }
  }
}

}  // namespace x2v::cpu_int8
