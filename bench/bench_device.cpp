// Matmul (f32 and bf16) and attention (f32) on the device PLATFORM selects (`PLATFORM=vulkan` for a GPU or
// lavapipe), as GFLOP/s and, where the device's fp16 peak is known (fp16_peak_tflops), the ratio to it, with
// the device's hardware line (and the host CPU's) in the context. On lavapipe the figures only guard against
// regressions.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace {

x2v::Tensor random_on(x2v::Device& device, const x2v::Shape& shape, uint32_t seed,
                      x2v::DType dtype = x2v::DType::f32) {
  std::vector<float> values(x2v::shape_numel(shape));
  uint32_t state = seed;
  for (float& value : values) {
    state = state * 1664525u + 1013904223u;
    value = static_cast<float>(state >> 8) * (1.0f / 16777216.0f) - 0.5f;
  }
  return x2v::ops::to_device(x2v::Tensor::host_from(values, shape, dtype), device);
}

// The device's dense fp16 tensor peak in TFLOP/s, the yardstick of the target (mm at half of it with
// cooperative matrices): X2V_BENCH_DEVICE_PEAK_TFLOPS where given, else the vendor's figure for a few data
// centre GPUs recognised by name (SXM parts), else 0 (unknown: no ratio printed).
double fp16_peak_tflops(const std::string& hardware) {
  if (const char* given = std::getenv("X2V_BENCH_DEVICE_PEAK_TFLOPS"); given != nullptr && given[0] != '\0')
    return std::atof(given);
  const std::pair<const char*, double> known[] = {{"H200", 989.0}, {"H100", 989.0}, {"A100", 312.0}};
  for (const auto& [name, tflops] : known)
    if (hardware.find(name) != std::string::npos) return tflops;
  return 0.0;
}

void report_throughput(benchmark::State& state, x2v::Device& device, double flop, double seconds) {
  state.counters["GFLOP/s"] = flop / seconds * 1e-9;
  const double peak = fp16_peak_tflops(device.hardware());
  if (peak > 0) state.counters["ratio_to_fp16_peak"] = flop / seconds / (peak * 1e12);
}

// The device and the host CPU (model and instruction-set path), on every result.
void describe(benchmark::State& state, x2v::Device& device) {
  std::string label = device.device_string() + ": " + device.hardware();
  if (&device != &x2v::host_device()) label += "; host: " + x2v::host_device().hardware();
  state.SetLabel(label);
}

// `dtype`: of the weight, x and y (bf16 takes the cooperative-matrix shader where the device has one).
void run_device_mm(benchmark::State& state, int64_t rows, int64_t in_features, int64_t out_features,
                   x2v::DType dtype) {
  x2v::Device& device = x2v::selected_device();
  describe(state, device);
  auto kernel = device.kernels().mm.create("");
  kernel->load(random_on(device, {out_features, in_features}, 1, dtype),
               random_on(device, {out_features}, 2));
  const x2v::Tensor x = random_on(device, {rows, in_features}, 3, dtype);
  x2v::Tensor y = x2v::empty({rows, out_features}, dtype, device);
  kernel->apply(x, y);  // warm-up: pipelines, caches
  const auto times = x2v::bench::time_iterations(state, [&] { kernel->apply(x, y); });
  report_throughput(state, device, 2.0 * rows * in_features * out_features, times.best_seconds);
}

void run_device_attention(benchmark::State& state, int64_t heads, int64_t length, int64_t head_dim) {
  x2v::Device& device = x2v::selected_device();
  describe(state, device);
  auto kernel = device.kernels().attention.create("");
  kernel->load({});
  const x2v::Tensor q = random_on(device, {heads, length, head_dim}, 4),
                    k = random_on(device, {heads, length, head_dim}, 5),
                    v = random_on(device, {heads, length, head_dim}, 6);
  x2v::Tensor out = x2v::empty({heads, length, head_dim}, x2v::DType::f32, device);
  kernel->apply(q, k, v, out);
  const auto times = x2v::bench::time_iterations(state, [&] { kernel->apply(q, k, v, out); });
  report_throughput(state, device, 4.0 * heads * length * length * head_dim, times.best_seconds);
}

// Small shapes (lavapipe runs at about 0.2 GFLOP/s); a GPU wants X2V_BENCH_DEVICE_SCALE=8 or more.
const int64_t kScale = x2v::bench::environment_int("X2V_BENCH_DEVICE_SCALE", 1);

}  // namespace

BENCHMARK_CAPTURE(run_device_mm, f32_M128_K256_N256, 128 * kScale, 256 * kScale, 256 * kScale,
                  x2v::DType::f32)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(run_device_mm, bf16_M128_K256_N256, 128 * kScale, 256 * kScale, 256 * kScale,
                  x2v::DType::bf16)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(run_device_attention, f32_H2_L256_D64, 2, 256 * kScale, 64)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
