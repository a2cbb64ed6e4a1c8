// Wan2.1 VAE decode at 480x832 (latent 60x104) at full width (dim 96, random weights made in-process),
// streamed into a sink that drops the frames, for several latent frame counts: seconds, seconds per output
// frame, the device allocator's peak and the process's peak RSS (both must stay flat as frames grow),
// and the share of time per op category. A decode costs about 3 TFLOP per output frame, so on a small
// CPU this is slow; pick the cases with the environment:
//   X2V_BENCH_VAE_FRAMES="5,9,21"   latent frame counts (5 -> 17 video frames, 21 -> 81)
//   X2V_BENCH_VAE_LATENT="60x104"   latent height x width
//   X2V_BENCH_VAE_DTYPE=f32|bf16    activation dtype (WanVaeOptions::dtype)
//   X2V_BENCH_VAE_TILING=1          decode in 256-pixel tiles (use_tiling_vae)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bench_common.h"
#include "io/memory_checkpoint.h"
#include "models/wan/vae.h"
#include "platform/platform.h"
#include "platform/profiler.h"

namespace x2v {
namespace {

std::string environment(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::vector<int64_t> parse_list(const std::string& text, char separator) {
  std::vector<int64_t> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, separator))
    if (!item.empty()) values.push_back(std::stoll(item));
  return values;
}

int64_t resident_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::string(field).size()));
  return -1;
}

const WanVae& model() {
  static const std::unique_ptr<WanVae> vae = [] {
    OpProfiler::instance().set_enabled(true);  // before the kernels are created
    WanVaeOptions options;
    const std::string dtype = environment("X2V_BENCH_VAE_DTYPE", "f32");
    if (!parse_dtype(dtype, &options.dtype))
      throw Error("bench", concat("X2V_BENCH_VAE_DTYPE='", dtype, "'"));
    options.tiling = environment("X2V_BENCH_VAE_TILING", "0") == "1";
    return std::make_unique<WanVae>(
        *bench::random_checkpoint(wan_vae_tensor_shapes(96, 16), "random Wan2.1 VAE", 2024), options,
        selected_device());
  }();
  return *vae;
}

void VaeDecode(benchmark::State& state, int64_t latent_frames) {
  const std::vector<int64_t> size = parse_list(environment("X2V_BENCH_VAE_LATENT", "60x104"), 'x');
  const WanVae& vae = model();
  std::vector<float> values(16 * latent_frames * size.at(0) * size.at(1));
  uint64_t seed = 7;
  for (float& value : values) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    value = static_cast<float>(seed >> 40) / static_cast<float>(1 << 24) * 3.4f - 1.7f;
  }
  const Tensor latents = Tensor::host_from(values, {16, latent_frames, size[0], size[1]});
  Allocator& allocator = selected_device().allocator();
  int64_t frames = 0;
  double seconds = 0;
  const int64_t rss_before_kib = resident_kib("VmRSS:");
  for (auto _ : state) {
    OpProfiler::instance().reset();
    allocator.reset_peak();
    std::ofstream("/proc/self/clear_refs") << "5" << std::flush;  // VmHWM restarts from here
    const auto start = std::chrono::steady_clock::now();
    vae.decode(latents, [&](const Tensor& chunk) { frames += chunk.size(1); });
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  double profiled = 0;
  const auto totals = OpProfiler::instance().totals();
  for (const auto& [category, category_seconds] : totals) profiled += category_seconds;
  for (const auto& [category, category_seconds] : totals)
    state.counters["share_" + category] = profiled > 0 ? category_seconds / profiled : 0;
  const double iterations = static_cast<double>(state.iterations());
  state.counters["latent_frames"] = static_cast<double>(latent_frames);
  state.counters["video_frames"] = static_cast<double>(frames) / iterations;
  state.counters["seconds"] = seconds / iterations;
  state.counters["s_per_frame"] = seconds / static_cast<double>(frames);
  state.counters["peak_alloc_GiB"] = static_cast<double>(allocator.stats().peak_bytes) / (1 << 30);
  state.counters["peak_reserved_GiB"] =
      static_cast<double>(allocator.stats().peak_reserved_bytes) / (1 << 30);
  state.counters["rss_before_GiB"] = static_cast<double>(rss_before_kib) / (1 << 20);
  state.counters["peak_rss_GiB"] = static_cast<double>(resident_kib("VmHWM:")) / (1 << 20);
}

const bool kRegistered = [] {
  for (int64_t frames : parse_list(environment("X2V_BENCH_VAE_FRAMES", "5,9,21"), ','))
    benchmark::RegisterBenchmark(concat("VaeDecode/latent_frames:", frames).c_str(), VaeDecode, frames)
        ->Unit(benchmark::kSecond)
        ->Iterations(1)
        ->UseRealTime();
  return true;
}();

}  // namespace
}  // namespace x2v
