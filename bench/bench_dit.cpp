// One Wan2.1 DiT step at 1.3B width (dim 1536, 12 heads, 30 layers; random weights made in-process) on a
// 16x9x32x32 latent (2304 tokens), in bf16 (DTYPE) by default: seconds per step, peak memory and the
// share of time in mm, attention and the rest. tools/reference/time_dit_torch.py times the same step in
// PyTorch for the side-by-side figure. Layers and tokens can be reduced for a quick look:
//   X2V_BENCH_DIT_LAYERS=4 X2V_BENCH_DIT_FRAMES=3 ./build/bench/x2v_bench --benchmark_filter=DitStep
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdlib>
#include <random>

#include "bench_common.h"
#include "models/wan/dit_model.h"
#include "platform/platform.h"
#include "platform/profiler.h"

namespace x2v {
namespace {

void DitStep(benchmark::State& state) {
  WanDitConfig config;  // the 1.3B architecture
  config.num_layers = bench::environment_int("X2V_BENCH_DIT_LAYERS", 30);
  const int64_t frames = bench::environment_int("X2V_BENCH_DIT_FRAMES", 9);
  Device& device = selected_device();
  OpProfiler::instance().set_enabled(true);
  const WanDitCheckpoint checkpoint =
      WanDitCheckpoint::from_checkpoint(bench::random_wan_dit(config), nullptr);
  const WanDit model(checkpoint, WanDitKernels{}, Precision::from_environment(), device);
  std::mt19937 generator(1);
  std::normal_distribution<float> normal;
  auto random_tensor = [&](const Shape& shape) {
    std::vector<float> values(shape_numel(shape));
    for (float& value : values) value = normal(generator);
    return Tensor::host_from(values, shape);
  };
  WanDitInputs inputs;
  inputs.x = random_tensor({16, frames, 32, 32});
  inputs.timestep = 937;
  inputs.context = random_tensor({64, config.text_dim});
  model.forward(inputs);  // warm-up: primitive creation, weight packing, allocator caches
  OpProfiler::instance().reset();
  device.allocator().reset_peak();
  for (auto _ : state) benchmark::DoNotOptimize(model.forward(inputs));
  const auto totals = OpProfiler::instance().totals();
  double all = 0;
  for (const auto& [category, seconds] : totals) {
    all += seconds;
    state.counters["s_" + category] = seconds / static_cast<double>(state.iterations());
  }
  const double per_step = all / static_cast<double>(state.iterations());
  const double mm = totals.count("mm") ? totals.at("mm") : 0.0;
  const double attention = totals.count("attention") ? totals.at("attention") : 0.0;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["tokens"] = static_cast<double>(frames * 16 * 16);
  state.counters["layers"] = static_cast<double>(config.num_layers);
  state.counters["s_per_step"] = per_step;
  state.counters["share_mm"] = all > 0 ? mm / all : 0;
  state.counters["share_attention"] = all > 0 ? attention / all : 0;
  state.counters["share_rest"] = all > 0 ? (all - mm - attention) / all : 0;
  state.counters["peak_activation_GiB"] =
      static_cast<double>(device.allocator().stats().peak_bytes) / (1 << 30);
  state.counters["peak_rss_GiB"] = static_cast<double>(usage.ru_maxrss) / (1 << 20);
  OpProfiler::instance().set_enabled(false);
}
BENCHMARK(DitStep)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace
}  // namespace x2v
