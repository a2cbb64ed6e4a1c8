// TeaCache and MagCache over LightX2V's 50-step Wan2.1 T2V 1.3B schedule, with the published coefficients and
// ratios (configs/caching/wan_t2v_1_3b_{tea,mag}_480p.json: thresholds, shift, guidance, CFG as shipped): the
// DiT evaluations that ran, the sampling time against the uncached run and the final latent's cosine to the
// uncached one. The DiT has the 1.3B width with random weights (made in-process) and few layers, so a run
// takes minutes; TeaCache's decisions follow the time embedding's movement, which random weights only
// approximate, while MagCache's follow the published ratios alone. Sizes:
//   X2V_BENCH_CACHE_LAYERS=2 X2V_BENCH_CACHE_FRAMES=3 build/bench/x2v_bench --benchmark_filter=FeatureCache
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>

#include "bench_common.h"
#include "core/error.h"
#include "io/config.h"
#include "pipeline/denoiser.h"
#include "pipeline/wan_sampling.h"
#include "platform/platform.h"
#include "schedulers/torch_random.h"

namespace x2v {
namespace {

struct CachedRun {
  Tensor latents;
  double seconds = 0;
  int64_t evaluations_run = 0;
};

CachedRun run_schedule(const WanDit& model, const WanSamplingInputs& inputs,
                       const WanSamplingOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Sampler> sampler = make_sampler(options.sampler);
  WanGuidedDenoiser denoiser(model, inputs, options.enable_cfg, options.guide_scale, options.caching);
  CachedRun run;
  run.latents = run_sampling(denoiser, *sampler, inputs.noise, "bench");
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.evaluations_run = options.evaluations();
  for (bool conditional : {true, false})
    if (const FeatureCache* cache = denoiser.cache(conditional)) run.evaluations_run -= cache->skipped();
  return run;
}

double cosine(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_floats(), y = b.to_floats();
  double dot = 0, xx = 0, yy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    dot += static_cast<double>(x[i]) * y[i];
    xx += static_cast<double>(x[i]) * x[i];
    yy += static_cast<double>(y[i]) * y[i];
  }
  return dot / std::sqrt(xx * yy);
}

void FeatureCache(benchmark::State& state) {
  WanDitConfig config;  // the 1.3B architecture
  config.num_layers = bench::environment_int("X2V_BENCH_CACHE_LAYERS", 2);
  const int64_t frames = bench::environment_int("X2V_BENCH_CACHE_FRAMES", 3);
  Device& device = selected_device();
  const WanDitCheckpoint checkpoint =
      WanDitCheckpoint::from_checkpoint(bench::random_wan_dit(config), nullptr);
  const WanDit model(checkpoint, WanDitKernels{}, Precision::from_environment(), device);
  WanSamplingInputs inputs;
  const Shape latent{16, frames, 32, 32};
  inputs.noise = Tensor::host_from(torch_randn(42, shape_numel(latent)), latent);
  inputs.context = Tensor::host_from(torch_randn(43, 64 * config.text_dim), {64, config.text_dim});
  inputs.context_null = Tensor::host_from(torch_randn(44, 64 * config.text_dim), {64, config.text_dim});
  const std::string folder = X2V_CONFIGS_DIR "/caching/";
  const WanSamplingOptions tea =
      WanSamplingOptions::from_config(io::Config::from_file(folder + "wan_t2v_1_3b_tea_480p.json"));
  const WanSamplingOptions mag =
      WanSamplingOptions::from_config(io::Config::from_file(folder + "wan_t2v_1_3b_mag_480p.json"));
  for (const WanSamplingOptions* options : {&tea, &mag})
    if (options->step_count() != 50) throw Error("bench", "the caching configs no longer run 50 steps");
  for (auto _ : state) {
    // The uncached reference with each config's own schedule (shift, guidance): they differ.
    WanSamplingOptions plain_tea = tea, plain_mag = mag;
    plain_tea.caching = FeatureCacheOptions{};
    plain_mag.caching = FeatureCacheOptions{};
    const CachedRun uncached_tea = run_schedule(model, inputs, plain_tea);
    const CachedRun cached_tea = run_schedule(model, inputs, tea);
    const CachedRun uncached_mag = run_schedule(model, inputs, plain_mag);
    const CachedRun cached_mag = run_schedule(model, inputs, mag);
    state.SetIterationTime(uncached_tea.seconds + cached_tea.seconds + uncached_mag.seconds +
                           cached_mag.seconds);
    state.counters["evaluations"] = static_cast<double>(tea.evaluations());
    state.counters["tea_evaluations_run"] = static_cast<double>(cached_tea.evaluations_run);
    state.counters["tea_speedup"] = uncached_tea.seconds / cached_tea.seconds;
    state.counters["tea_s_saved_per_step"] = (uncached_tea.seconds - cached_tea.seconds) / 50.0;
    state.counters["tea_cosine"] = cosine(cached_tea.latents, uncached_tea.latents);
    state.counters["mag_evaluations_run"] = static_cast<double>(cached_mag.evaluations_run);
    state.counters["mag_speedup"] = uncached_mag.seconds / cached_mag.seconds;
    state.counters["mag_s_saved_per_step"] = (uncached_mag.seconds - cached_mag.seconds) / 50.0;
    state.counters["mag_cosine"] = cosine(cached_mag.latents, uncached_mag.latents);
    state.counters["s_uncached_step"] = uncached_tea.seconds / 50.0;
  }
  state.counters["layers"] = static_cast<double>(config.num_layers);
  state.counters["tokens"] = static_cast<double>(frames * 16 * 16);
  state.SetLabel(device.device_string() + ": " + device.hardware());
}
BENCHMARK(FeatureCache)->Unit(benchmark::kSecond)->Iterations(1)->UseManualTime();

}  // namespace
}  // namespace x2v
