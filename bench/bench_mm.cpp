// Matmul-with-weight (the cpu "Default" mm kernel, onednn_mm) at the Wan2.1-1.3B DiT shapes, with f32
// and bf16 weights. Each result carries GFLOP/s and its ratio to oneDNN's own best matmul for the same
// dtype, measured in the same process (peak.h).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_common.h"
#include "peak.h"
#include "platform/platform.h"

namespace {

using x2v::DType;

struct MmShape {
  const char* name;
  int64_t rows, in_features, out_features;
};

// Wan2.1-1.3B: model dim 1536, ffn dim 8960, text dim 4096; video token counts 2304 and 4680; the text
// embedding runs on the 512 text tokens.
constexpr MmShape kShapes[] = {
    {"qkvo_M2304", 2304, 1536, 1536},         {"ffn_up_M2304", 2304, 1536, 8960},
    {"ffn_down_M2304", 2304, 8960, 1536},     {"qkvo_M4680", 4680, 1536, 1536},
    {"ffn_up_M4680", 4680, 1536, 8960},       {"ffn_down_M4680", 4680, 8960, 1536},
    {"text_embedding_M512", 512, 4096, 1536},
};

struct DTypeCase {
  const char* name;
  DType weight, activation;
};

constexpr DTypeCase kDTypeCases[] = {
    {"f32", DType::f32, DType::f32},
    {"bf16", DType::bf16, DType::bf16},         // bf16 weights and activations (LightX2V's bf16 run)
    {"bf16w_f32act", DType::bf16, DType::f32},  // bf16 weights, f32 activations
};

x2v::Tensor random_tensor(const x2v::Shape& shape, DType dtype, uint32_t seed) {
  std::vector<float> values(x2v::shape_numel(shape));
  uint32_t state = seed;
  for (float& value : values) {
    state = state * 1664525u + 1013904223u;
    value = static_cast<float>(state >> 8) * (1.0f / 16777216.0f) - 0.5f;
  }
  return x2v::Tensor::host_from(values, shape, dtype);
}

void run_mm(benchmark::State& state, MmShape shape, DTypeCase dtypes) {
  // The peak first, so that its several seconds of work do not overlap the timed loop.
  const double peak = onednn_matmul_peak_gflops(dtypes.weight);
  auto kernel = x2v::host_device().kernels().mm.create("Default");
  const x2v::Tensor weight = random_tensor({shape.out_features, shape.in_features}, dtypes.weight, 1);
  const x2v::Tensor bias = random_tensor({shape.out_features}, DType::f32, 2);
  const x2v::Tensor x = random_tensor({shape.rows, shape.in_features}, dtypes.activation, 3);
  x2v::Tensor y = x2v::Tensor::host({shape.rows, shape.out_features}, dtypes.activation);
  kernel->load(weight, bias);
  kernel->apply(x, y);  // warm-up: primitive creation, scratch buffers
  const x2v::bench::IterationTimes times = x2v::bench::time_iterations(state, [&] { kernel->apply(x, y); });
  const double seconds = times.total_seconds, best_seconds = times.best_seconds;
  const double gflop = 2e-9 * shape.rows * shape.in_features * shape.out_features;
  // GFLOP/s over all iterations; the ratio compares like with like: the best iteration against the
  // peak, which is itself the best of several runs (both then shrug off other processes' bursts).
  state.counters["GFLOP/s"] = gflop * static_cast<double>(state.iterations()) / seconds;
  state.counters["best_GFLOP/s"] = gflop / best_seconds;
  state.counters["ratio_to_onednn_peak"] = gflop / best_seconds / peak;
  state.counters["peak_GFLOP/s"] = peak;
  state.SetLabel(onednn_matmul_peak_label(dtypes.weight));
}

const bool kRegistered = [] {
  for (const DTypeCase& dtypes : kDTypeCases)
    for (const MmShape& shape : kShapes)
      benchmark::RegisterBenchmark((std::string("mm/onednn_mm/") + dtypes.name + "/" + shape.name).c_str(),
                                   run_mm, shape, dtypes)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond)
          ->MinTime(2.0);
  return true;
}();

}  // namespace
