// Matmul and attention on the device PLATFORM selects (`PLATFORM=vulkan` for a GPU or lavapipe), f32, as
// GFLOP/s, with the device's hardware line (and the host CPU's) in the context. On lavapipe the figures
// only guard against regressions; no device peak is known here, so no ratio to one is printed.
#include <benchmark/benchmark.h>

#include <string>
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
  const double flop = 2.0 * rows * in_features * out_features;
  state.counters["GFLOP/s"] = flop / times.best_seconds * 1e-9;
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
  const double flop = 4.0 * heads * length * length * head_dim;
  state.counters["GFLOP/s"] = flop / times.best_seconds * 1e-9;
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
