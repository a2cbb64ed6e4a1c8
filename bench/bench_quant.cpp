// Quantized matmul and the quantized DiT step on the cpu platform.
//
// On a machine shared with other work, run with OMP_NUM_THREADS=1 and read cpu_GOP/s and cpu_s_per_step
// (process CPU time): they compare the kernels fairly where wall times swing with the neighbours' load.
//
// quant_mm/<case>/<shape>: one linear at the Wan2.1-1.3B DiT shapes, GOP/s (2 ops per multiply-add) of
//   the unquantized kernel with f32 and with bf16 weights (LightX2V's bf16 run, bf16 activations), of
//   the W8A8 kernel (int8-cpu, bf16 activations quantized per token inside) and of the fp8 weight-only
//   kernel (fp8-onednn).
// quant_dit/<scheme>: one DiT step at 1.3B width (latent 16x9x32x32, 2304 tokens; random bf16 weights
//   made in-process, quantized at load for int8/fp8 as weight_auto_quant does): seconds per step and the
//   memory the loaded model holds (resident set growth over the load, with the source checkpoint and the
//   load's temporaries freed: weights, scales, norms).
//   Layers and frames can be reduced as for the DitStep benchmark, X2V_BENCH_DIT_STEPS (2) sets the steps:
//   X2V_BENCH_DIT_LAYERS=4 ./build/bench/x2v_bench --benchmark_filter=quant_dit
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "models/wan/dit_model.h"
#include "platform/platform.h"
#include "quant/quantize.h"

namespace x2v {
namespace {

// CPU seconds of the whole process. With OMP_NUM_THREADS=1 this is the time the work itself took, which
// other processes on a shared machine cannot stretch the way they stretch wall time.
double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

Tensor random_tensor(const Shape& shape, DType dtype, uint32_t seed, float scale) {
  std::vector<float> values(shape_numel(shape));
  uint32_t state = seed;
  for (float& value : values) {
    state = state * 1664525u + 1013904223u;
    value = (static_cast<float>(state >> 8) * (1.0f / 16777216.0f) - 0.5f) * scale;
  }
  return Tensor::host_from(values, shape, dtype);
}

// ---------------------------------------------------------------------------------------------- GEMM

struct MmShape {
  const char* name;
  int64_t rows, in_features, out_features;
};

constexpr MmShape kShapes[] = {
    {"qkvo_M2304", 2304, 1536, 1536},
    {"ffn_up_M2304", 2304, 1536, 8960},
    {"ffn_down_M2304", 2304, 8960, 1536},
    {"cross_kv_M512", 512, 1536, 1536},
};

struct MmCase {
  const char* name;
  const char* kernel;
  DType weight;      // f32/bf16: plain weights; i8/f8_e4m3: quantized from random f32 weights
  DType activation;  // x and y
};

constexpr MmCase kCases[] = {
    {"f32", "Default", DType::f32, DType::f32},
    {"bf16", "Default", DType::bf16, DType::bf16},
    {"int8", "int8-vllm", DType::i8, DType::bf16},
    {"fp8", "fp8-vllm", DType::f8_e4m3, DType::bf16},
};

void run_mm(benchmark::State& state, MmShape shape, MmCase mm_case) {
  auto kernel = host_device().kernels().mm.create(mm_case.kernel);
  const float weight_scale = 2.0f / std::sqrt(static_cast<float>(shape.in_features));
  const Tensor bias = random_tensor({shape.out_features}, DType::f32, 2, 0.1f);
  const QuantFormat format = quant_format_of(mm_case.weight);
  if (format == QuantFormat::none) {
    kernel->load(random_tensor({shape.out_features, shape.in_features}, mm_case.weight, 1, weight_scale),
                 bias);
  } else {
    kernel->load_quantized(
        quantize_weight(random_tensor({shape.out_features, shape.in_features}, DType::f32, 1, weight_scale),
                        format),
        bias);
  }
  const Tensor x = random_tensor({shape.rows, shape.in_features}, mm_case.activation, 3, 2.0f);
  Tensor y = Tensor::host({shape.rows, shape.out_features}, mm_case.activation);
  kernel->apply(x, y);  // warm-up: primitives, scratch buffers
  const double cpu_start = process_cpu_seconds();
  const bench::IterationTimes times = bench::time_iterations(state, [&] { kernel->apply(x, y); });
  const double gop = 2e-9 * shape.rows * shape.in_features * shape.out_features;
  state.counters["GOP/s"] = gop * static_cast<double>(state.iterations()) / times.total_seconds;
  state.counters["best_GOP/s"] = gop / times.best_seconds;
  state.counters["cpu_GOP/s"] =
      gop * static_cast<double>(state.iterations()) / (process_cpu_seconds() - cpu_start);
  state.SetLabel(host_device().kernels().mm.resolve(mm_case.kernel));
}

// ------------------------------------------------------------------------------------------ DiT step

// Resident set size now (not the peak): /proc/self/statm's second field, in pages. Freed heap memory is
// handed back first, so that the load's temporaries (f32 copies quantize_weight makes) do not count.
double resident_gib() {
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * 4096.0 / (1 << 30);
}

void run_dit(benchmark::State& state, const char* scheme) {
  WanDitConfig config;  // the 1.3B architecture
  config.num_layers = bench::environment_int("X2V_BENCH_DIT_LAYERS", 30);
  const int64_t frames = bench::environment_int("X2V_BENCH_DIT_FRAMES", 9);
  Device& device = selected_device();
  WanDitKernels kernels;
  kernels.block_mm = scheme;
  kernels.weight_auto_quant = true;
  const double resident_before = resident_gib();
  std::unique_ptr<WanDit> model;
  {
    // The checkpoint (bf16 source weights) is freed after the load: what stays is what the model holds.
    const WanDitCheckpoint checkpoint =
        WanDitCheckpoint::from_checkpoint(bench::random_wan_dit(config), nullptr);
    model = std::make_unique<WanDit>(checkpoint, kernels, Precision::from_environment(), device);
  }
  const double model_gib = resident_gib() - resident_before;
  WanDitInputs inputs;
  inputs.x = random_tensor({16, frames, 32, 32}, DType::f32, 7, 3.4f);
  inputs.timestep = 937;
  inputs.context = random_tensor({64, config.text_dim}, DType::f32, 8, 3.4f);
  model->forward(inputs);  // warm-up: primitive creation, allocator caches
  double seconds = 0.0, best_seconds = 1e30;
  const double cpu_start = process_cpu_seconds();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(model->forward(inputs));
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    seconds += elapsed;
    best_seconds = std::min(best_seconds, elapsed);
  }
  state.counters["layers"] = static_cast<double>(config.num_layers);
  state.counters["tokens"] = static_cast<double>(frames * 16 * 16);
  state.counters["s_per_step"] = seconds / static_cast<double>(state.iterations());
  // The best step: on a shared machine the mean carries other processes' bursts.
  state.counters["best_s_per_step"] = best_seconds;
  state.counters["cpu_s_per_step"] =
      (process_cpu_seconds() - cpu_start) / static_cast<double>(state.iterations());
  state.counters["model_GiB"] = model_gib;
}

const bool kRegistered = [] {
  for (const MmCase& mm_case : kCases)
    for (const MmShape& shape : kShapes)
      benchmark::RegisterBenchmark((std::string("quant_mm/") + mm_case.name + "/" + shape.name).c_str(),
                                   run_mm, shape, mm_case)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond)
          ->MinTime(1.0);
  for (const char* scheme : {"Default", "int8-vllm", "fp8-vllm"})
    benchmark::RegisterBenchmark((std::string("quant_dit/") + scheme).c_str(), run_dit, scheme)
        ->Unit(benchmark::kSecond)
        ->Iterations(bench::environment_int("X2V_BENCH_DIT_STEPS", 2))
        ->UseRealTime();
  return true;
}();

}  // namespace
}  // namespace x2v
