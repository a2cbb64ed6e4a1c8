#pragma once
// An exact int8 x int8 -> int32 GEMM for AVX2 CPUs, with the W8A8 epilogue (per-token activation scale x
// per-channel weight scale, bias, output dtype) applied to each tile as it leaves the registers.
//
// Why not oneDNN: on CPUs without VNNI (AVX2, AVX-512 before Cascade Lake) oneDNN 2.6's int8 GEMM
// multiplies with vpmaddubsw, whose u8 x s8 pair sums saturate at 16 bits; with full-range int8 data
// (activations shifted to u8, weights in [-128, 127]) the results are wrong (measured here: 61438 of
// 61440 outputs off for random int8 data, all-zero results for all-extreme data). This GEMM widens both
// operands to int16 and multiplies pairs with vpmaddwd (int16 x int16 -> int32), which cannot overflow,
// so every product is exact.
//
// Layouts (both zero padded):
//   weights, packed once at load: [ceil(N/16) panels][ceil(K/2) pairs][16 columns][2] int8, 1 byte a
//     weight like the checkpoint's;
//   activations, quantized and packed per call: [ceil(M/6) panels][ceil(K/2) pairs][6 rows] of int32,
//     each int32 holding the int16 pair (x[k], x[k+1]).
#include <cstdint>

#include "core/tensor.h"

namespace x2v::cpu_int8 {

constexpr int64_t kPanelRows = 6;      // rows of a microkernel tile (activation panel height)
constexpr int64_t kPanelColumns = 16;  // columns of a microkernel tile (weight panel width)

inline int64_t pair_count(int64_t k) {
  return (k + 1) / 2;
}
inline int64_t column_panel_count(int64_t n) {
  return (n + kPanelColumns - 1) / kPanelColumns;
}
inline int64_t row_panel_count(int64_t m) {
  return (m + kPanelRows - 1) / kPanelRows;
}
// Bytes of packed weights and of packed activations.
inline int64_t packed_weight_bytes(int64_t n, int64_t k) {
  return column_panel_count(n) * pair_count(k) * kPanelColumns * 2;
}
inline int64_t packed_activation_words(int64_t m, int64_t k) {
  return row_panel_count(m) * pair_count(k) * kPanelRows;
}

// `weight` int8 [n, k] with row stride `row_stride` (elements) -> the packed weight layout.
void pack_weights(const int8_t* weight, int64_t n, int64_t k, int64_t row_stride, int8_t* packed);

// Quantizes each of the `m` rows of `x` ([m, k] contiguous, f32/bf16/f16) per token exactly as
// quantize_row_int8 (platform/ops/mm.h) does, writing the packed activations and one scale per row.
void quantize_and_pack_activations(const void* x, DType x_dtype, int64_t m, int64_t k, int32_t* packed,
                                   float* scales);

struct Int8GemmArguments {
  const int32_t* activations = nullptr;  // packed, from quantize_and_pack_activations
  const float* activation_scales = nullptr;
  const int8_t* weights = nullptr;       // packed, from pack_weights
  const float* weight_scales = nullptr;  // [n]
  const float* bias = nullptr;           // [n] or null
  int64_t m = 0, n = 0, k = 0;
  void* y = nullptr;  // [m, n] contiguous
  DType y_dtype = DType::f32;
};

// The same per-token quantization into plain int8 rows q [m, k] (for oneDNN's int8 matmul on VNNI CPUs).
void quantize_activations(const void* x, DType x_dtype, int64_t m, int64_t k, int8_t* q, float* scales);
// The W8A8 epilogue over a whole int32 product `sums` [m, n] (row-major): the very arithmetic int8_gemm
// applies per tile, so the two paths give identical outputs. `arguments.activations` and `weights` are
// not read.
void apply_epilogue(const int32_t* sums, const Int8GemmArguments& arguments);

// y[i, j] = (sum_k qx[i, k] qw[j, k]) * activation_scale[i] * weight_scale[j] + bias[j], parallel over
// column blocks (OpenMP). `int32_scratch` is the per-call scratch from int32_scratch_words().
void int8_gemm(const Int8GemmArguments& arguments, int32_t* int32_scratch);
// int32 words of scratch int8_gemm needs for these sizes (partial sums when K spans several blocks).
int64_t int32_scratch_words(int64_t m, int64_t n, int64_t k, int threads);

}  // namespace x2v::cpu_int8
