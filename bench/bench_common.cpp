#include "bench_common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>

namespace x2v::bench {

int64_t environment_int(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  return value ? std::atoll(value) : fallback;
}

std::unique_ptr<io::MemoryCheckpoint> random_wan_dit(const WanDitConfig& config) {
  auto checkpoint = std::make_unique<io::MemoryCheckpoint>("random Wan2.1-1.3B-width DiT");
  uint64_t state = 12345;
  for (const auto& [name, shape] : wan_dit_tensor_shapes(config)) {
    Tensor tensor = Tensor::host(shape, DType::bf16);
    uint16_t* bits = tensor.data_u16();
    const bool is_norm_weight = shape.size() == 1 && name.find("norm") != std::string::npos;
    const float scale = shape.size() >= 2 ? 1.0f / std::sqrt(static_cast<float>(shape.back())) : 0.05f;
    for (int64_t i = 0; i < tensor.numel(); ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;  // a fast LCG is plenty here
      const float uniform = static_cast<float>(state >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f;
      bits[i] = float_to_bf16(is_norm_weight ? 1.0f + 0.1f * uniform : 1.7f * scale * uniform);
    }
    checkpoint->add(name, tensor);
  }
  return checkpoint;
}

std::unique_ptr<io::MemoryCheckpoint> random_checkpoint(
    const std::vector<std::pair<std::string, Shape>>& shapes, const std::string& label, uint64_t seed) {
  auto checkpoint = std::make_unique<io::MemoryCheckpoint>(label);
  uint64_t state = seed;
  for (const auto& [name, shape] : shapes) {
    Tensor tensor = Tensor::host(shape, DType::f32);
    float* values = tensor.data<float>();
    const bool gamma = name.find("gamma") != std::string::npos;
    const int64_t fan_in = shape.size() >= 2 ? shape_numel(shape) / shape[0] : 1;
    const float scale = shape.size() >= 2 ? std::sqrt(3.0f / static_cast<float>(fan_in)) : 0.05f;
    for (int64_t i = 0; i < tensor.numel(); ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const float uniform = static_cast<float>(state >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f;
      values[i] = gamma ? 1.0f + 0.1f * uniform : scale * uniform;
    }
    checkpoint->add(name, tensor);
  }
  return checkpoint;
}

IterationTimes time_iterations(benchmark::State& state, const std::function<void()>& body) {
  IterationTimes times;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    body();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(elapsed);
    times.total_seconds += elapsed;
    times.best_seconds = std::min(times.best_seconds, elapsed);
  }
  return times;
}

}  // namespace x2v::bench
