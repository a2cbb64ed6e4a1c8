#pragma once
// What a text-to-video run will cost, known before any weight loads: the DiT's tokens, evaluations and
// FLOPs, a time from this machine's measured matmul rate, and lower bounds of each stage's memory, so an
// impossible size is a user error at once and a multi-hour run says so at the start.
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "models/wan/dit_weights.h"
#include "pipeline/wan_defaults.h"
#include "platform/device.h"

namespace x2v {

struct WanCost {
  int64_t tokens = 0;              // DiT sequence length: latent frames x (height/16) x (width/16)
  int64_t dit_evaluations = 0;     // steps, twice with CFG
  double dit_flops = 0;            // multiply-adds x 2 over every evaluation (linears and attention)
  double dit_attention_flops = 0;  // the part of dit_flops in attention's score and value products
  double dit_bytes = 0;  // lower bound of the DiT stage's memory (weights + one block's activations)
  double dit_block_weight_bytes = 0;  // one block's weights (two are on the device when blocks stream)
  double vae_bytes = 0;               // lower bound of the VAE decode's memory (one chunk at full resolution)
};

// `block_weight_bytes`: bytes a weight of the blocks' linears (1 when quantized); `vae_tile` is the decode's
// tile side in pixels (0: untiled), `vae_dtype` its activations' dtype.
WanCost estimate_wan_cost(const WanDitConfig& dit, const WanVideoShape& shape, int64_t evaluations,
                          DType compute, size_t block_weight_bytes, int64_t vae_tile, DType vae_dtype);

// FLOP/s of `device`'s default matmul kernel and of its attention kernel `attention_kernel` in `compute`,
// measured on DiT-like shapes (a few tens of ms in all).
struct MeasuredRates {
  double matmul = 0, attention = 0;
  // Seconds for `cost`'s DiT evaluations at these rates.
  double dit_seconds(const WanCost& cost) const;
};
MeasuredRates measure_rates(Device& device, DType compute, const std::string& attention_kernel,
                            int64_t head_dim);

// Bytes `device` can hold: X2V_MEMORY_LIMIT when set, else the machine's memory for host devices; 0 when
// unknown (no check).
double device_memory_budget(Device& device);

// Throw Error (a user error) when that stage's lower bound exceeds the device's budget, naming the size and
// the need.
void check_dit_memory(const WanCost& cost, const WanVideoShape& shape, Device& device);
void check_vae_memory(const WanCost& cost, const WanVideoShape& shape, Device& device);

// "142 TFLOP", "3.1 GFLOP".
std::string format_flops(double flops);
// "45 s", "17 min", "3.2 h", "2.5 days".
std::string format_duration(double seconds);

}  // namespace x2v
