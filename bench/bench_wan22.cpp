// Wan2.2 TI2V-5B's two heavy parts at its published size, random weights made in-process: a DiT step at the
// 5B width (dim 3072, 24 heads, ffn 14336, 48 latent channels; layers reduced by default) over the tokens of
// 121 frames of 704x1280 (27280), and the Wan2.2 VAE (encoder 160, decoder 256, z 48) decoding 704x1280
// frames.
//   X2V_BENCH_TI2V_LAYERS=2 X2V_BENCH_TI2V_LATENT_FRAMES=31 build/bench/x2v_bench
//   --benchmark_filter=Ti2vDitStep X2V_BENCH_VAE22_FRAMES=2 build/bench/x2v_bench
//   --benchmark_filter=Wan22VaeDecode   (2 -> 5 video frames)
#include <benchmark/benchmark.h>

#include <chrono>

#include "bench_common.h"
#include "models/wan/dit_model.h"
#include "models/wan/vae.h"
#include "models/wan/vae_weights.h"
#include "platform/platform.h"
#include "schedulers/torch_random.h"

namespace x2v {
namespace {

void Ti2vDitStep(benchmark::State& state) {
  WanDitConfig config;  // Wan2.2-TI2V-5B (the official wan_ti2v_5B.py)
  config.dim = 3072;
  config.num_heads = 24;
  config.ffn_dim = 14336;
  config.in_dim = config.out_dim = 48;
  config.num_layers = bench::environment_int("X2V_BENCH_TI2V_LAYERS", 2);
  const int64_t latent_frames = bench::environment_int("X2V_BENCH_TI2V_LATENT_FRAMES", 31);
  Device& device = selected_device();
  const WanDitCheckpoint checkpoint =
      WanDitCheckpoint::from_checkpoint(bench::random_wan_dit(config), nullptr);
  const WanDit model(checkpoint, WanDitKernels{}, Precision::from_environment(), device);
  const Shape latent{48, latent_frames, 44, 80};  // 704x1280 at 16x
  WanDitInputs inputs;
  inputs.x = Tensor::host_from(torch_randn(1, shape_numel(latent)), latent);
  inputs.timestep = 937;
  inputs.context = Tensor::host_from(torch_randn(2, 64 * config.text_dim), {64, config.text_dim});
  const bench::IterationTimes times = bench::time_iterations(state, [&] { model.forward(inputs); });
  state.counters["layers"] = static_cast<double>(config.num_layers);
  state.counters["tokens"] = static_cast<double>(latent_frames * 22 * 40);
  state.counters["s_per_layer"] = times.best_seconds / static_cast<double>(config.num_layers);
  state.counters["s_per_step_30_layers"] = times.best_seconds / static_cast<double>(config.num_layers) * 30;
  state.SetLabel(device.device_string() + ": " + device.hardware());
}
BENCHMARK(Ti2vDitStep)->Unit(benchmark::kSecond)->Iterations(1)->UseManualTime();

void Wan22VaeDecode(benchmark::State& state) {
  Device& device = selected_device();
  const int64_t latent_frames = bench::environment_int("X2V_BENCH_VAE22_FRAMES", 2);
  const WanVae vae(*bench::random_checkpoint(wan22_vae_tensor_shapes(160, 256, 48), "Wan2.2 VAE", 2028),
                   WanVaeOptions{}, device);
  const Shape latent{48, latent_frames, 44, 80};
  const Tensor latents = Tensor::host_from(torch_randn(3, shape_numel(latent)), latent);
  int64_t frames = 0;
  const bench::IterationTimes times = bench::time_iterations(state, [&] {
    frames = 0;
    vae.decode(latents, [&](const Tensor& chunk) { frames += chunk.size(1); });
  });
  state.counters["video_frames"] = static_cast<double>(frames);
  state.counters["s_per_frame"] = times.best_seconds / static_cast<double>(std::max<int64_t>(frames, 1));
  state.counters["peak_allocator_GiB"] =
      static_cast<double>(device.allocator().stats().peak_bytes) / (1 << 30);
  state.SetLabel(device.device_string() + ": " + device.hardware());
}
BENCHMARK(Wan22VaeDecode)->Unit(benchmark::kSecond)->Iterations(1)->UseManualTime();

}  // namespace
}  // namespace x2v
