// Offload at Wan2.1-14B width (dim 5120, 40 heads, FFN 13824; random bf16 weights written to disk once in
// LightX2V's block-split layout, non_block.safetensors + block_<i>.safetensors) on a 16x9x32x32 latent
// (2304 tokens): seconds per step and per layer and peak RSS, resident (at a depth that fits in memory)
// against lazy_load over every layer; and on a device with memory of its own (PLATFORM=toy, vulkan) the
// device's peak with block offload against resident. Each benchmark resets the process's peak RSS first
// (/proc/self/clear_refs), so run them in one process or apart alike:
//   X2V_BENCH_OFFLOAD_DIR=/data/x2v_14b ./build/bench/x2v_bench --benchmark_filter='Offload(Resident|Lazy)'
// Settings: X2V_BENCH_OFFLOAD_LAYERS (40: the checkpoint's depth; a folder of another depth is rewritten),
// X2V_BENCH_OFFLOAD_RESIDENT_LAYERS (8), X2V_BENCH_OFFLOAD_FRAMES (9 latent frames: 2304 tokens),
// X2V_BENCH_OFFLOAD_DEVICE_LAYERS (4) and X2V_BENCH_OFFLOAD_DEVICE_SIDE (8: an 8x8 latent, 16 tokens, and a
// 64-token text: a device run measures memory, and lavapipe or the toy plugin compute slowly).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "bench_common.h"
#include "core/dtype.h"
#include "core/log.h"
#include "io/memory_checkpoint.h"
#include "io/safetensors.h"
#include "models/wan/dit_model.h"
#include "platform/allocator.h"
#include "platform/platform.h"

namespace x2v {
namespace {

namespace fs = std::filesystem;

WanDitConfig wan_14b_config(int64_t layers) {
  WanDitConfig config;
  config.dim = 5120;
  config.num_heads = 40;
  config.ffn_dim = 13824;
  config.num_layers = layers;
  return config;
}

std::string checkpoint_dir() {
  const char* dir = std::getenv("X2V_BENCH_OFFLOAD_DIR");
  return dir != nullptr && dir[0] != '\0' ? dir : (fs::temp_directory_path() / "x2v_bench_wan14b").string();
}

// Random bf16 values at a trained model's scales (as bench::random_wan_dit), one tensor at a time.
Tensor random_tensor(const std::string& name, const Shape& shape, uint64_t& state) {
  Tensor tensor = Tensor::host(shape, DType::bf16);
  uint16_t* bits = tensor.data_u16();
  const bool is_norm_weight = shape.size() == 1 && name.find("norm") != std::string::npos;
  const float scale = shape.size() >= 2 ? 1.7f / std::sqrt(static_cast<float>(shape.back())) : 0.05f;
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const float uniform = static_cast<float>(state >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f;
    bits[i] = float_to_bf16(is_norm_weight ? 1.0f + 0.1f * uniform : scale * uniform);
  }
  return tensor;
}

// Writes the block-split checkpoint unless `dir` already holds one of `config`'s depth. Never more than
// one block in memory.
void ensure_checkpoint(const std::string& dir, const WanDitConfig& config) {
  const fs::path folder(dir);
  const fs::path marker = folder / "x2v_bench_layers.txt";
  if (fs::exists(marker)) {
    std::ifstream in(marker);
    int64_t layers = 0;
    in >> layers;
    if (layers == config.num_layers) return;
  }
  fs::remove_all(folder);
  fs::create_directories(folder);
  log_info("bench", "writing a ", config.describe(), " DiT to ", dir, " (once)");
  std::map<std::string, std::vector<std::pair<std::string, Tensor>>> files;
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t state = 12345;
  std::vector<std::pair<std::string, Tensor>> current;
  std::string current_file;
  auto flush = [&] {
    if (current.empty()) return;
    io::write_safetensors((folder / current_file).string(), current);
    current.clear();
  };
  for (const auto& [name, shape] : wan_dit_tensor_shapes(config)) {
    std::string file = "non_block.safetensors";
    if (name.starts_with("blocks.")) file = "block_" + name.substr(7, name.find('.', 7) - 7) + ".safetensors";
    if (file != current_file) {
      flush();
      current_file = file;
    }
    current.emplace_back(name, random_tensor(name, shape, state));
    weight_map[name] = file;
  }
  flush();
  std::ofstream((folder / "diffusion_pytorch_model.safetensors.index.json"))
      << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", weight_map}}.dump(1);
  std::ofstream(folder / "config.json")
      << nlohmann::json{{"dim", config.dim},           {"num_heads", config.num_heads},
                        {"ffn_dim", config.ffn_dim},   {"num_layers", config.num_layers},
                        {"text_len", config.text_len}, {"model_type", "t2v"}}
             .dump(1);
  std::ofstream(marker) << config.num_layers << "\n";
}

// The first `layers` blocks of the checkpoint, for a resident run that fits in memory.
std::unique_ptr<io::MemoryCheckpoint> first_layers(const std::string& dir, int64_t layers) {
  auto full = io::open_checkpoint(dir);
  auto subset =
      std::make_unique<io::MemoryCheckpoint>(dir + " (first " + std::to_string(layers) + " blocks)");
  for (const std::string& name : full->names()) {
    if (name.starts_with("blocks.") && std::stoll(name.substr(7, name.find('.', 7) - 7)) >= layers) continue;
    subset->add(name, full->load(name));  // borrowed from the mapped file: no copy
  }
  return subset;
}

double peak_rss_gib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmHWM:")) return std::stod(line.substr(6)) / (1 << 20);
  return 0;
}

// Gives cached and freed memory back first, so an earlier benchmark's leftovers do not count.
void reset_peak_rss() {
  host_device().allocator().release_cache();
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

WanDitInputs step_inputs(const WanDitConfig& config, int64_t frames, int64_t side = 32) {
  std::mt19937 generator(1);
  std::normal_distribution<float> normal;
  auto random = [&](const Shape& shape) {
    std::vector<float> values(shape_numel(shape));
    for (float& value : values) value = normal(generator);
    return Tensor::host_from(values, shape);
  };
  WanDitInputs inputs;
  inputs.x = random({16, frames, side, side});
  inputs.timestep = 937;
  inputs.context = random({64, config.text_dim});
  return inputs;
}

// Times one step after a warm-up step (primitive creation, packing, the stream's first reads).
void time_steps(benchmark::State& state, const WanDit& model, const WanDitInputs& inputs, int64_t layers) {
  const WanDitPreparedContext prepared = model.prepare_context(inputs.context, Tensor());
  model.forward(inputs, &prepared);
  double seconds = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(model.forward(inputs, &prepared));
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  const double per_step = seconds / static_cast<double>(state.iterations());
  state.counters["layers"] = static_cast<double>(layers);
  state.counters["tokens"] = static_cast<double>(inputs.x.size(1) * inputs.x.size(2) * inputs.x.size(3) / 4);
  state.counters["s_per_step"] = per_step;
  state.counters["s_per_layer"] = per_step / static_cast<double>(layers);
  state.counters["peak_rss_GiB"] = peak_rss_gib();
  state.SetLabel(host_device().hardware());
}

void OffloadResident(benchmark::State& state) {
  const int64_t layers = bench::environment_int("X2V_BENCH_OFFLOAD_LAYERS", 40);
  const int64_t resident = std::min(layers, bench::environment_int("X2V_BENCH_OFFLOAD_RESIDENT_LAYERS", 8));
  const std::string dir = checkpoint_dir();
  ensure_checkpoint(dir, wan_14b_config(layers));
  reset_peak_rss();
  const WanDitCheckpoint checkpoint = WanDitCheckpoint::from_checkpoint(first_layers(dir, resident), nullptr);
  const WanDit model(checkpoint, WanDitKernels{}, Precision::from_environment(), host_device());
  time_steps(state, model, step_inputs(model.config(), bench::environment_int("X2V_BENCH_OFFLOAD_FRAMES", 9)),
             resident);
}
BENCHMARK(OffloadResident)->Unit(benchmark::kSecond)->Iterations(1)->UseManualTime();

void OffloadLazy(benchmark::State& state) {
  const int64_t layers = bench::environment_int("X2V_BENCH_OFFLOAD_LAYERS", 40);
  const std::string dir = checkpoint_dir();
  ensure_checkpoint(dir, wan_14b_config(layers));
  reset_peak_rss();
  OffloadOptions offload;
  offload.cpu_offload = true;
  offload.lazy_load = true;
  offload.num_disk_workers = static_cast<int>(bench::environment_int("X2V_BENCH_OFFLOAD_WORKERS", 4));
  auto checkpoint = std::make_shared<const WanDitCheckpoint>(WanDitCheckpoint::open(dir));
  const WanDit model(checkpoint, WanDitKernels{}, Precision::from_environment(), host_device(), offload);
  time_steps(state, model, step_inputs(model.config(), bench::environment_int("X2V_BENCH_OFFLOAD_FRAMES", 9)),
             layers);
}
BENCHMARK(OffloadLazy)->Unit(benchmark::kSecond)->Iterations(1)->UseManualTime();

// Device memory: resident against block offload on the selected device (skipped on a host-memory device).
void OffloadDevice(benchmark::State& state) {
  Device& device = selected_device();
  if (device.host_accessible()) {
    state.SkipWithError("PLATFORM is a host-memory device; run with PLATFORM=toy or vulkan");
    for (auto _ : state) {
    }
    return;
  }
  const int64_t layers = bench::environment_int("X2V_BENCH_OFFLOAD_DEVICE_LAYERS", 4);
  const int64_t side = bench::environment_int("X2V_BENCH_OFFLOAD_DEVICE_SIDE", 8);
  const std::string dir = checkpoint_dir() + "_device";
  // A short text (64 tokens) keeps the cross-attention keys' share small on a slow device.
  WanDitConfig config = wan_14b_config(layers);
  config.text_len = 64;
  ensure_checkpoint(dir, config);
  auto checkpoint = std::make_shared<const WanDitCheckpoint>(WanDitCheckpoint::open(dir));
  const WanDitInputs inputs = step_inputs(checkpoint->config(), 1, side);
  auto peak_of = [&](const OffloadOptions& offload, double* seconds) {
    device.allocator().release_cache();
    device.allocator().reset_peak();
    const WanDit model(checkpoint, WanDitKernels{}, Precision::from_environment(), device, offload);
    const WanDitPreparedContext prepared = model.prepare_context(inputs.context, Tensor());
    const auto start = std::chrono::steady_clock::now();
    model.forward(inputs, &prepared);
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return static_cast<double>(device.allocator().stats().peak_bytes) / (1 << 30);
  };
  OffloadOptions block;
  block.cpu_offload = true;
  double resident_seconds = 0, offload_seconds = 0;
  for (auto _ : state) {
    state.counters["device_peak_resident_GiB"] = peak_of(OffloadOptions{}, &resident_seconds);
    state.counters["device_peak_offload_GiB"] = peak_of(block, &offload_seconds);
    state.SetIterationTime(offload_seconds);
  }
  state.counters["layers"] = static_cast<double>(layers);
  state.counters["tokens"] = static_cast<double>(side * side / 4);
  state.counters["s_step_resident"] = resident_seconds;
  state.counters["s_step_offload"] = offload_seconds;
  state.SetLabel(device.device_string() + ": " + device.hardware() + "; host: " + host_device().hardware());
}
BENCHMARK(OffloadDevice)->Unit(benchmark::kSecond)->Iterations(1)->UseManualTime();

}  // namespace
}  // namespace x2v
