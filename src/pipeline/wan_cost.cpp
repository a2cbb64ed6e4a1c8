#include "pipeline/wan_cost.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/progress.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {

WanCost estimate_wan_cost(const WanDitConfig& dit, const WanVideoShape& shape, int64_t evaluations,
                          DType compute, size_t block_weight_bytes, int64_t vae_tile, DType vae_dtype) {
  WanCost cost;
  const double latent_frames = 1.0 + static_cast<double>(shape.frames - 1) / 4.0;
  const double patch_pixels = 2.0 * static_cast<double>(shape.spatial_factor);
  const double tokens = latent_frames * (static_cast<double>(shape.height) / patch_pixels) *
                        (static_cast<double>(shape.width) / patch_pixels);
  cost.tokens = static_cast<int64_t>(std::min(tokens, 9.0e18));
  cost.dit_evaluations = evaluations;
  const double d = static_cast<double>(dit.dim), ffn = static_cast<double>(dit.ffn_dim);
  const double text = static_cast<double>(dit.text_len);
  // Per block: self-attention q,k,v,o; cross-attention q,o (k,v over the text); the FFN; then the two
  // attentions' score and value products. Each multiply-add is 2 FLOPs.
  const double linears = 2.0 * tokens * (4 * d * d + 2 * d * d + 2 * d * ffn) + 2.0 * text * 2 * d * d;
  const double attention = 4.0 * tokens * tokens * d + 4.0 * tokens * text * d;
  const double per_layer = static_cast<double>(evaluations) * static_cast<double>(dit.num_layers);
  cost.dit_flops = per_layer * (linears + attention);
  cost.dit_attention_flops = per_layer * attention;

  const double weight_bytes = static_cast<double>(dit.num_layers) * (8 * d * d + 2 * d * ffn) *
                              static_cast<double>(block_weight_bytes);
  // Each context's (and the negative one's) cross-attention keys and values, kept for the whole loop.
  const double contexts =
      2.0 * static_cast<double>(dit.num_layers) * 2 * text * d * static_cast<double>(dtype_size(compute));
  // The FFN's hidden activations and a handful of [tokens, dim] f32 tensors live at once.
  const double activations = tokens * (ffn * static_cast<double>(dtype_size(compute)) + 6 * d * 4);
  const double factor = static_cast<double>(shape.spatial_factor);
  const double latents = 4.0 * static_cast<double>(shape.latent_channels) * latent_frames *
                         (shape.height / factor) * (shape.width / factor) * 4;
  cost.dit_bytes = weight_bytes + contexts + activations + latents;
  cost.dit_block_weight_bytes = weight_bytes / static_cast<double>(std::max<int64_t>(1, dit.num_layers));
  // The decoder's last stage: 96 channels of up to 4 frames at full resolution (or of one tile), input and
  // output.
  const double height = vae_tile > 0 ? std::min<double>(shape.height, vae_tile) : shape.height;
  const double width = vae_tile > 0 ? std::min<double>(shape.width, vae_tile) : shape.width;
  cost.vae_bytes = 2.0 * 4 * 96 * height * width * static_cast<double>(dtype_size(vae_dtype));
  return cost;
}

namespace {

double measure_matmul_rate(Device& device, DType compute) {
  constexpr int64_t kTokens = 512, kIn = 1536, kOut = 1536;
  Tensor x = empty({kTokens, kIn}, compute, device);
  Tensor weight = empty({kOut, kIn}, compute, device);
  Tensor y = empty({kTokens, kOut}, compute, device);
  ops::fill(x, 0.01f);
  ops::fill(weight, 0.02f);
  std::unique_ptr<MatmulKernel> kernel = device.kernels().mm.create("");
  kernel->load(weight, Tensor());
  kernel->apply(x, y);  // warm-up: packing, thread start
  device.compute_stream().synchronize();
  const auto start = std::chrono::steady_clock::now();
  constexpr int kRepeats = 3;
  for (int i = 0; i < kRepeats; ++i) kernel->apply(x, y);
  device.compute_stream().synchronize();
  const double seconds = std::max(seconds_since(start), 1e-6);
  return 2.0 * kTokens * kIn * kOut * kRepeats / seconds;
}

double measure_attention_rate(Device& device, DType compute, const std::string& kernel_name,
                              int64_t head_dim) {
  constexpr int64_t kHeads = 12, kTokens = 1024;
  Tensor q = empty({kHeads, kTokens, head_dim}, compute, device);
  Tensor out = empty({kHeads, kTokens, head_dim}, compute, device);
  ops::fill(q, 0.01f);
  std::unique_ptr<AttentionKernel> kernel = device.kernels().attention.create(kernel_name);
  kernel->load(AttentionOptions{});
  kernel->apply(q, q, q, out);
  device.compute_stream().synchronize();
  const auto start = std::chrono::steady_clock::now();
  kernel->apply(q, q, q, out);
  device.compute_stream().synchronize();
  const double seconds = std::max(seconds_since(start), 1e-6);
  return 4.0 * kHeads * kTokens * kTokens * head_dim / seconds;
}

}  // namespace

MeasuredRates measure_rates(Device& device, DType compute, const std::string& attention_kernel,
                            int64_t head_dim) {
  MeasuredRates rates;
  rates.matmul = measure_matmul_rate(device, compute);
  rates.attention = measure_attention_rate(device, compute, attention_kernel, head_dim);
  return rates;
}

double MeasuredRates::dit_seconds(const WanCost& cost) const {
  // Norms, modulation, RoPE, conversions and the sampler add about a fifth to the linears and attention
  // (the 1.3B's shape at 1950 tokens, 20 evaluations on 2 Zen4 cores: 231 s against 188 s from the rates).
  constexpr double kRestOfTheStep = 1.2;
  return kRestOfTheStep *
         ((cost.dit_flops - cost.dit_attention_flops) / matmul + cost.dit_attention_flops / attention);
}

double device_memory_budget(Device& device) {
  const size_t limit = device.allocator().stats().limit_bytes;
  if (limit > 0) return static_cast<double>(limit);
  if (!device.host_accessible()) return 0;
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

namespace {

void check_stage(const char* stage, double need, Device& device, const WanVideoShape& shape, int64_t tokens) {
  const double budget = device_memory_budget(device);
  if (budget <= 0 || need <= budget) return;
  throw Error("memory",
              concat(shape.frames, " frames of ", shape.height, "x", shape.width, " (", tokens,
                     " DiT tokens) need at least ", format_bytes(static_cast<size_t>(std::min(need, 1.8e19))),
                     " in the ", stage, ", more than the ", format_bytes(static_cast<size_t>(budget)), " of ",
                     device.device_string(), "; lower target_height, target_width or target_video_length"));
}

}  // namespace

void check_dit_memory(const WanCost& cost, const WanVideoShape& shape, Device& device) {
  check_stage("DiT", cost.dit_bytes, device, shape, cost.tokens);
}

void check_vae_memory(const WanCost& cost, const WanVideoShape& shape, Device& device) {
  check_stage("VAE decode", cost.vae_bytes, device, shape, cost.tokens);
}

std::string format_flops(double flops) {
  const char* units[] = {"FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP"};
  int unit = 0;
  while (flops >= 1000 && unit < 6) {
    flops /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), flops < 10 ? "%.1f %s" : "%.0f %s", flops, units[unit]);
  return text;
}

std::string format_duration(double seconds) {
  char text[32];
  if (seconds < 90)
    std::snprintf(text, sizeof(text), "%.0f s", seconds);
  else if (seconds < 90 * 60)
    std::snprintf(text, sizeof(text), "%.0f min", seconds / 60);
  else if (seconds < 48 * 3600)
    std::snprintf(text, sizeof(text), "%.1f h", seconds / 3600);
  else
    std::snprintf(text, sizeof(text), "%.1f days", seconds / 86400);
  return text;
}

}  // namespace x2v
