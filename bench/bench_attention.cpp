// The cpu attention kernel (cpu_flash_attn) at the Wan2.1 shapes: self-attention over the 4680 video
// tokens of a 480p clip (12 heads x 128), cross-attention of those tokens to the 512 text tokens, and
// one run at L = 32760 that shows the working memory stays linear in L. q/k/v/out are token-major
// [len, heads * head_dim] buffers read through strided [heads, len, head_dim] views, as in the DiT.
// Counters: GFLOP/s (4 * heads * q_len * kv_len * head_dim flop per call), its ratio to oneDNN's best
// bf16 matmul in the same process (peak.h), and the memory the call added (allocator peak, RSS peak).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "peak.h"
#include "platform/platform.h"

namespace {

using x2v::DType;

struct AttentionShape {
  const char* name;
  int64_t heads, query_len, key_len, head_dim;
  int iterations;  // 0: as many as Google Benchmark wants
};

constexpr AttentionShape kShapes[] = {
    {"self_L4680_12x128", 12, 4680, 4680, 128, 0},
    {"cross_q4680_kv512_12x128", 12, 4680, 512, 128, 0},
    {"self_L32760_12x128", 12, 32760, 32760, 128, 1},
};

constexpr DType kDTypes[] = {DType::bf16, DType::f32};

// A [heads, len, head_dim] view of a token-major [len, heads * head_dim] buffer of small varied values.
x2v::Tensor token_major(int64_t heads, int64_t len, int64_t head_dim, DType dtype, uint32_t seed) {
  std::vector<float> values(len * heads * head_dim);
  uint32_t state = seed;
  for (float& value : values) {
    state = state * 1664525u + 1013904223u;
    value = static_cast<float>(state >> 8) * (2.0f / 16777216.0f) - 1.0f;
  }
  return x2v::Tensor::host_from(values, {len, heads, head_dim}, dtype).permute({1, 0, 2});
}

int64_t resident_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::string(field).size()));
  return -1;
}

// Resets the resident-set peak (VmHWM) so that the next reading is the peak of what follows.
bool reset_resident_peak() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5" << std::flush;
  return clear_refs.good();
}

void run_attention(benchmark::State& state, AttentionShape shape, DType dtype) {
  // The peak first, so that its seconds of work do not overlap the timed loop.
  const double peak = onednn_matmul_peak_gflops(DType::bf16);
  const x2v::Tensor q = token_major(shape.heads, shape.query_len, shape.head_dim, dtype, 1);
  const x2v::Tensor k = token_major(shape.heads, shape.key_len, shape.head_dim, dtype, 2);
  const x2v::Tensor v = token_major(shape.heads, shape.key_len, shape.head_dim, dtype, 3);
  x2v::Tensor out =
      x2v::Tensor::host({shape.query_len, shape.heads, shape.head_dim}, dtype).permute({1, 0, 2});
  auto kernel = x2v::host_device().kernels().attention.create("cpu_flash_attn");
  kernel->load({});
  x2v::Allocator& allocator = x2v::host_device().allocator();
  allocator.release_cache();
  allocator.reset_peak();
  const size_t allocated_before = allocator.stats().current_bytes;
  const bool rss_peak_known = reset_resident_peak();
  const int64_t rss_before_kib = resident_kib("VmRSS:");
  if (shape.iterations == 0) kernel->apply(q, k, v, out);  // warm-up: threads, workspace
  double seconds = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    kernel->apply(q, k, v, out);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  const double flop = 4.0 * shape.heads * shape.query_len * shape.key_len * shape.head_dim;
  const double gflops = flop * static_cast<double>(state.iterations()) / seconds * 1e-9;
  constexpr double kMiB = 1024.0 * 1024.0;
  state.counters["GFLOP/s"] = gflops;
  state.counters["ratio_to_onednn_bf16_peak"] = gflops / peak;
  state.counters["peak_GFLOP/s"] = peak;
  state.counters["inputs_MiB"] =
      static_cast<double>(q.nbytes() + k.nbytes() + v.nbytes() + out.nbytes()) / kMiB;
  state.counters["workspace_MiB"] =
      static_cast<double>(allocator.stats().peak_bytes - allocated_before) / kMiB;
  if (rss_peak_known && rss_before_kib > 0)
    state.counters["rss_peak_growth_MiB"] =
        static_cast<double>(resident_kib("VmHWM:") - rss_before_kib) / 1024.0;
  state.SetLabel(onednn_matmul_peak_label(DType::bf16));
}

const bool kRegistered = [] {
  for (DType dtype : kDTypes)
    for (const AttentionShape& shape : kShapes) {
      auto* benchmark = benchmark::RegisterBenchmark(
          (std::string("attention/cpu_flash_attn/") + x2v::dtype_name(dtype) + "/" + shape.name).c_str(),
          run_attention, shape, dtype);
      benchmark->UseManualTime()->Unit(benchmark::kMillisecond);
      if (shape.iterations > 0)
        benchmark->Iterations(shape.iterations);
      else
        benchmark->MinTime(3.0);
    }
  return true;
}();

}  // namespace
