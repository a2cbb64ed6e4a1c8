// One umT5-XXL text encode of 512 tokens at the full width (dim 4096, 64 heads x 64, ffn 10240, vocab
// 256384, 24 layers; random bf16 weights made in memory, ~11.4 GB at 24 layers), in DTYPE (bf16 by
// default): seconds per encode, GFLOP/s and its ratio to oneDNN's matmul peak, the share of time in mm
// and attention, and peak memory (the device allocator's activations and the process's resident set,
// weights included). Fewer layers for a quick look:
//   X2V_BENCH_T5_LAYERS=2 ./build/bench/x2v_bench --benchmark_filter=T5Encode
#include <benchmark/benchmark.h>
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "bench_common.h"
#include "models/wan/t5_encoder.h"
#include "peak.h"
#include "platform/platform.h"
#include "platform/profiler.h"

namespace x2v {
namespace {

constexpr int64_t kTokens = 512;

// A uniform value in [-1, 1) from (tensor seed, element index): a counter-based hash, so the 5.7 billion
// weights fill in parallel in a few seconds.
inline float hashed_uniform(uint64_t seed, uint64_t index) {
  uint64_t z = seed + index * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

// Random bf16 weights at trained-model scales: unit-variance embedding rows and linear outputs, norm
// weights near 1, position biases of a few units.
std::unique_ptr<io::MemoryCheckpoint> random_t5(const T5Config& config) {
  auto checkpoint = std::make_unique<io::MemoryCheckpoint>("random umT5-XXL-width encoder");
  uint64_t seed = 1;
  for (const auto& [name, shape] : t5_tensor_shapes(config)) {
    Tensor tensor = Tensor::host(shape, DType::bf16);
    uint16_t* bits = tensor.data_u16();
    const bool is_norm = shape.size() == 1;
    const bool is_table = name.find("pos_embedding") != std::string::npos || name == "token_embedding.weight";
    const float scale = is_table ? 1.7f : 1.7f / std::sqrt(static_cast<float>(shape.back()));
    const int64_t count = tensor.numel();
    seed += 0x632BE59BD9B4E019ULL;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) {
      const float uniform = hashed_uniform(seed, static_cast<uint64_t>(i));
      bits[i] = float_to_bf16(is_norm ? 1.0f + 0.1f * uniform : scale * uniform);
    }
    checkpoint->add(name, tensor);
  }
  return checkpoint;
}

void T5Encode(benchmark::State& state) {
  const T5Config config{256384, 4096, 4096, 10240, 64, bench::environment_int("X2V_BENCH_T5_LAYERS", 24),
                        32,     128};
  const Precision precision = Precision::from_environment();
  const double peak = onednn_matmul_peak_gflops(precision.compute);  // before the weights take the memory
  Device& device = selected_device();
  OpProfiler::instance().set_enabled(true);
  const std::unique_ptr<io::MemoryCheckpoint> checkpoint = random_t5(config);
  const T5Encoder encoder(*checkpoint, precision, device);
  TokenizedText tokens;
  tokens.length = kTokens;
  for (int64_t i = 0; i < kTokens; ++i)
    tokens.ids.push_back(
        static_cast<int32_t>((hashed_uniform(7, i) + 1.0f) * 0.5f * (config.vocab_size - 1)));
  encoder.encode(tokens);  // warm-up: primitive creation, allocator caches
  OpProfiler::instance().reset();
  device.allocator().reset_peak();
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(encoder.encode(tokens));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
                         static_cast<double>(state.iterations());
  const auto totals = OpProfiler::instance().totals();
  double all = 0;  // time inside ops; the rest is host work (position biases)
  for (const auto& [category, op_seconds] : totals) {
    all += op_seconds;
    state.counters["s_" + category] = op_seconds / static_cast<double>(state.iterations());
  }
  const double mm = totals.count("mm") ? totals.at("mm") : 0.0;
  const double attention = totals.count("attention") ? totals.at("attention") : 0.0;
  // Matmuls 2 * tokens * parameters per layer, attention 4 * tokens^2 * dim_attn per layer.
  const double layer_parameters = 4.0 * config.dim * config.dim_attn + 3.0 * config.dim * config.dim_ffn;
  const double flop = config.num_layers * (2.0 * kTokens * layer_parameters +
                                           4.0 * kTokens * kTokens * static_cast<double>(config.dim_attn));
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["layers"] = static_cast<double>(config.num_layers);
  state.counters["tokens"] = static_cast<double>(kTokens);
  state.counters["s_per_encode"] = seconds;
  state.counters["GFLOPs"] = flop / seconds / 1e9;
  state.counters["ratio_to_onednn_peak"] = flop / seconds / 1e9 / peak;
  state.counters["share_mm"] = all > 0 ? mm / all : 0;
  state.counters["share_attention"] = all > 0 ? attention / all : 0;
  state.counters["weights_GiB"] =
      static_cast<double>(config.vocab_size * config.dim + config.num_layers * layer_parameters) * 2 /
      (1 << 30);
  state.counters["peak_device_GiB"] = static_cast<double>(device.allocator().stats().peak_bytes) / (1 << 30);
  state.counters["peak_rss_GiB"] = static_cast<double>(usage.ru_maxrss) / (1 << 20);
  state.SetLabel(onednn_matmul_peak_label(precision.compute));
  OpProfiler::instance().set_enabled(false);
}
BENCHMARK(T5Encode)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace
}  // namespace x2v
