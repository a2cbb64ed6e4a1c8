#pragma once
// Building blocks of the cpu flash-attention kernel (attention.cpp): conversions of rows between the
// activation dtypes and f32, packing of one head's keys and values into cache-friendly f32 panels, and
// the AVX2 tile steps of the online softmax (scores, softmax with running max/sum, P*V accumulation).
//
// Packed layouts (all f32, 64-byte aligned):
//   key panels:   panel p = keys [16p, 16p+16) stored as [head_dim][16], so one score micro-kernel step
//                 reads 16 keys of one dim contiguously; keys past the length are zero.
//   value panels: panel c = value columns [16c, 16c+16) stored as [key][16]; columns past head_dim are zero.
#include <cstdint>

#include "core/dtype.h"

namespace x2v::cpu_attention {

constexpr int kRowBlock = 6;     // query rows per micro-kernel call (6 x 16 accumulators = 12 ymm)
constexpr int kPanelWidth = 16;  // keys per key panel, columns per value panel
constexpr int kQueryTile = 48;   // query rows that share one pass over the keys (multiple of kRowBlock)
constexpr int kKeyTile = 256;    // keys per online-softmax step (multiple of kPanelWidth)

// 2^f on [-0.5, 0.5] for the softmax: a degree-6 polynomial fitted for relative error (< 1e-7), highest
// degree first; both tile sets evaluate it by Horner's rule.
inline constexpr float kExp2Polynomial[] = {1.534581097e-04f,
                                            1.339993207e-03f,
                                            9.618489072e-03f,
                                            5.550328642e-02f,
                                            2.402264625e-01f,
                                            6.931471825e-01f,
                                            1.0f};

inline int64_t round_up(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// target[i] = float(source[i]) * scale for `count` contiguous elements of `dtype` (f32, bf16 or f16).
void load_row(const void* source, DType dtype, int64_t count, float scale, float* target);
// target[i] = dtype(source[i] * scale), rounding to nearest even.
void store_row(const float* source, float scale, int64_t count, DType dtype, void* target);

// Packs keys [first, last) of one head (rows `row_stride` elements apart, `head_dim` contiguous) into
// key panels; `first` must be a multiple of kPanelWidth. Zero-fills the rest of the last panel when
// `last` is not a multiple of kPanelWidth.
void pack_key_panels(const void* keys, DType dtype, int64_t row_stride, int64_t head_dim, int64_t first,
                     int64_t last, float* panels);
// Packs values [first, last) of one head into value panels of `panel_rows` keys each.
void pack_value_panels(const void* values, DType dtype, int64_t row_stride, int64_t head_dim, int64_t first,
                       int64_t last, int64_t panel_rows, float* panels);

// One query tile's running state: queries pre-scaled into the log2 domain, the output accumulator and
// the per-row running max and sum. scores and accumulator must be 32-byte aligned.
struct TileBuffers {
  float* queries;      // [rows][head_dim], scaled by scale * log2(e)
  float* scores;       // [rows][kKeyTile]
  float* accumulator;  // [rows][padded_dim]
  float* row_max;      // [rows]
  float* row_sum;      // [rows]
  float* rescale;      // [rows]
};

struct TileShape {
  int64_t rows;  // multiple of kRowBlock
  int64_t head_dim;
  int64_t padded_dim;  // head_dim rounded up to kPanelWidth
  int64_t key_count;   // rows of each value panel (kv_len rounded up to kPanelWidth)
};

// An additive bias on a tile's scores (natural-log units, as the caller's logits): query row r and key j
// add values[r * row_stride + j]. Only the tile's first `rows` rows have one (the rest are padding).
struct ScoreBias {
  const float* values = nullptr;  // nullptr: no bias
  int64_t row_stride = 0;
  int64_t rows = 0;
};

// The AVX512-BF16 variant (attention_tiles_bf16.cpp), for bf16 queries, keys and values with an even
// head_dim: the same tiles and online softmax, but the operands stay bf16 and are multiplied with vdpbf16ps
// (f32 accumulation); the probabilities are rounded to bf16 for P V. Its panels hold bf16 pairs:
//   key panels:   [head_dim / 2][16 keys][2]     value panels: [keys / 2][16 columns][2]
// and it reads value rows up to the key tile rounded to 16, so rows past the keys must be zero
// (zero_value_panel_rows_bf16). Queries stay bf16 [rows][head_dim], unscaled: score_factor (scale times
// log2 e) is applied to the f32 scores.
// True when this CPU has AVX512-BF16 (with F/BW/VL) and X2V_CPU_ISA does not cap it off.
bool bf16_tiles_available();
void pack_key_panels_bf16(const uint16_t* keys, int64_t row_stride, int64_t head_dim, int64_t first,
                          int64_t last, uint16_t* panels);
void pack_value_panels_bf16(const uint16_t* values, int64_t row_stride, int64_t head_dim, int64_t first,
                            int64_t last, int64_t panel_rows, uint16_t* panels);
void zero_value_panel_rows_bf16(int64_t head_dim, int64_t first, int64_t last, int64_t panel_rows,
                                uint16_t* panels);
void attend_key_tile_bf16(const TileShape& shape, const uint16_t* queries, const uint16_t* key_panels,
                          const uint16_t* value_panels, int64_t first, int64_t count, float score_factor,
                          TileBuffers& tile, const ScoreBias& bias);

// Resets the running max, sum and accumulator of a tile.
void start_tile(const TileShape& shape, TileBuffers& tile);
// Consumes keys [first, first + count) (count <= kKeyTile, first a multiple of kKeyTile): scores (plus
// the bias, before the running max sees them), online softmax update, and accumulator += P V with the
// accumulator rescaled by exp2(old max - new max).
void attend_key_tile(const TileShape& shape, const float* key_panels, const float* value_panels,
                     int64_t first, int64_t count, TileBuffers& tile, const ScoreBias& bias = {});

}  // namespace x2v::cpu_attention
