#pragma once
// What several benchmarks share: integer settings from the environment and a random Wan2.1 DiT.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "io/memory_checkpoint.h"
#include "models/wan/dit_weights.h"

namespace x2v::bench {

// The integer in environment variable `name`, or `fallback` when it is not set.
int64_t environment_int(const char* name, int64_t fallback);

// Every tensor of a DiT of `config` with random bf16 values at the scales of a trained model
// (unit-variance activations through the linears, norm weights near 1); the same values on every call.
std::unique_ptr<io::MemoryCheckpoint> random_wan_dit(const WanDitConfig& config);

// f32 tensors of `shapes` with random values at a trained model's scales (uniform with unit-variance
// outputs for weights of 2+ dims, norm gammas near 1, small biases); the same values for the same seed.
std::unique_ptr<io::MemoryCheckpoint> random_checkpoint(
    const std::vector<std::pair<std::string, Shape>>& shapes, const std::string& label, uint64_t seed);

struct IterationTimes {
  double total_seconds = 0.0;
  double best_seconds = 1e30;  // on a shared machine the best carries the fewest foreign bursts
};
// Runs `body` once per benchmark iteration and reports each run's wall time as the iteration's (manual)
// time.
IterationTimes time_iterations(benchmark::State& state, const std::function<void()>& body);

}  // namespace x2v::bench
