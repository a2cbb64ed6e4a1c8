// The three decoders of a Wan2.1 video at 480x832 (latent 60x104), random weights made in-process: the full
// VAE (base width 96), LightVAE (the same at base width 24) and TAEHV (taew2_1's decoder), each decoding the
// same latents into a sink that drops the frames. Seconds per output frame for each and the light decoders'
// speed-ups over the full VAE (f32, or X2V_BENCH_VAE_DTYPE=bf16 for both VAEs' activations). TAEHV runs in
// f32 and in bf16 (what x2v infer runs, as LightX2V does):
//   X2V_BENCH_DECODE_FRAMES=2 build/bench/x2v_bench --benchmark_filter=LightDecoders   (2 -> 5 video frames)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>

#include "bench_common.h"
#include "models/wan/taehv.h"
#include "models/wan/vae.h"
#include "platform/platform.h"

namespace x2v {
namespace {

// Seconds per output frame of one decode through `decode`, which calls its sink per chunk [3, n, H, W];
// `total` gets the decode's seconds.
double seconds_per_frame(const std::function<void(const std::function<void(const Tensor&)>&)>& decode,
                         double& total) {
  int64_t frames = 0;
  const auto start = std::chrono::steady_clock::now();
  decode([&](const Tensor& chunk) { frames += chunk.size(1); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  total += seconds;
  return seconds / static_cast<double>(std::max<int64_t>(frames, 1));
}

void LightDecoders(benchmark::State& state) {
  Device& device = selected_device();
  const int64_t latent_frames = bench::environment_int("X2V_BENCH_DECODE_FRAMES", 2);
  std::vector<float> values(16 * latent_frames * 60 * 104);
  uint64_t seed = 7;
  for (float& value : values) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    value = static_cast<float>(seed >> 40) / static_cast<float>(1 << 24) * 3.4f - 1.7f;
  }
  const Tensor latents = Tensor::host_from(values, {16, latent_frames, 60, 104});
  WanVaeOptions options;
  const char* dtype = std::getenv("X2V_BENCH_VAE_DTYPE");
  if (dtype != nullptr && std::string(dtype) == "bf16") options.dtype = DType::bf16;
  const WanVae full(*bench::random_checkpoint(wan_vae_tensor_shapes(96, 16), "Wan2.1 VAE", 2024), options,
                    device);
  const WanVae light(*bench::random_checkpoint(wan_vae_tensor_shapes(24, 16), "LightVAE", 2025), options,
                     device);
  const auto tae_weights = bench::random_checkpoint(taehv_decoder_tensor_shapes(), "TAEHV", 2026);
  const TaehvDecoder tae(*tae_weights, device, false, DType::f32);
  const TaehvDecoder tae_bf16(*tae_weights, device, false, DType::bf16);  // what x2v infer runs
  double full_seconds = 0, light_seconds = 0, tae_seconds = 0, tae_bf16_seconds = 0;
  for (auto _ : state) {
    double total = 0;
    full_seconds = seconds_per_frame([&](const auto& sink) { full.decode(latents, sink); }, total);
    light_seconds = seconds_per_frame([&](const auto& sink) { light.decode(latents, sink); }, total);
    tae_seconds = seconds_per_frame([&](const auto& sink) { tae.decode(latents, sink); }, total);
    tae_bf16_seconds = seconds_per_frame([&](const auto& sink) { tae_bf16.decode(latents, sink); }, total);
    state.SetIterationTime(total);
  }
  state.counters["video_frames"] = static_cast<double>(4 * latent_frames - 3);
  state.counters["s_frame_vae"] = full_seconds;
  state.counters["s_frame_lightvae"] = light_seconds;
  state.counters["s_frame_taehv_f32"] = tae_seconds;
  state.counters["s_frame_taehv_bf16"] = tae_bf16_seconds;
  state.counters["speedup_lightvae"] = full_seconds / light_seconds;
  state.counters["speedup_taehv_f32"] = full_seconds / tae_seconds;
  state.counters["speedup_taehv_bf16"] = full_seconds / tae_bf16_seconds;
  state.SetLabel(device.device_string() + ": " + device.hardware());
}
BENCHMARK(LightDecoders)->Unit(benchmark::kSecond)->Iterations(1)->UseManualTime();

}  // namespace
}  // namespace x2v
