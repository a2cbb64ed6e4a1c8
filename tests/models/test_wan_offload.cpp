// Offload and lazy loading of the Wan DiT: streamed runs (cpu_offload, lazy_load, block and phase
// granularity, plain and quantized weights, two steps so the stream wraps around) give the resident run's
// output bit for bit on the device under test; a memory limit below the model makes a resident load fail
// and a streamed one pass; bad checkpoints and keys are one-line errors naming the file, tensor or value.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "fixtures.h"
#include "io/config.h"
#include "io/memory_checkpoint.h"
#include "io/safetensors.h"
#include "models/wan/dit_model.h"
#include "models/wan/t5_encoder.h"
#include "pipeline/convert.h"
#include "platform/platform.h"
#include "support/test_device.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

namespace fs = std::filesystem;
using testing::expect_error_mentioning;
using testing::fixture_path;
using testing::load_fixture;
using testing::same_bytes;
using testing::test_device;

std::string model_folder() {
  return fixture_path("wan_dit/t2v/model_original");
}

WanDitInputs forward_inputs(double timestep) {
  const std::string file = "wan_dit/t2v/forward_inputs.safetensors";
  WanDitInputs inputs;
  inputs.x = load_fixture(file, "x");
  inputs.timestep = timestep;
  inputs.context = load_fixture(file, "context");
  return inputs;
}

struct TemporaryDirectory {
  fs::path path;
  explicit TemporaryDirectory(const std::string& name)
      : path(fs::temp_directory_path() / ("x2v_offload_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
  }
  ~TemporaryDirectory() { fs::remove_all(path); }
};

// The fixture model in LightX2V's lazy_load layout (non_block + block_<i> files and the index).
std::string write_block_split(const fs::path& folder) {
  ConvertOptions options;
  options.source = model_folder();
  options.output = folder.string();
  options.layout = OutputLayout::by_block;
  options.non_linear_dtype = std::nullopt;
  options.copy_no_weight_files = true;
  convert_checkpoint(options);
  return folder.string();
}

// Two steps with one prepared context, as the sampling loop runs them.
Tensor two_steps(const WanDit& model) {
  const WanDitInputs first = forward_inputs(900.0), second = forward_inputs(400.0);
  const WanDitPreparedContext prepared = model.prepare_context(first.context, Tensor());
  Tensor a = model.forward(first, &prepared);
  Tensor b = model.forward(second, &prepared);
  Tensor both = Tensor::host({2, a.numel()}, DType::f32);
  std::memcpy(both.raw_data(), a.raw_data(), a.nbytes());
  std::memcpy(static_cast<char*>(both.raw_data()) + a.nbytes(), b.raw_data(), b.nbytes());
  return both;
}

Tensor run(const std::string& path, const WanDitKernels& kernels, const OffloadOptions& offload) {
  auto checkpoint = std::make_shared<const WanDitCheckpoint>(WanDitCheckpoint::open(path));
  const WanDit model(checkpoint, kernels, Precision{}, test_device(), offload);
  return two_steps(model);
}

WanDitKernels int8_kernels() {
  WanDitKernels kernels;
  kernels.block_mm = "int8-vllm";
  kernels.weight_auto_quant = true;
  return kernels;
}

std::vector<OffloadOptions> streamed_options() {
  std::vector<OffloadOptions> all;
  for (OffloadGranularity granularity : {OffloadGranularity::block, OffloadGranularity::phase})
    for (int mode = 0; mode < 3; ++mode) {
      OffloadOptions options;
      options.granularity = granularity;
      options.cpu_offload = mode != 1;
      options.lazy_load = mode != 0;
      options.num_disk_workers = mode == 2 ? 1 : 4;
      all.push_back(options);
    }
  return all;
}

void expect_streamed_runs_match(const WanDitKernels& kernels) {
  TemporaryDirectory folder("split");
  const std::string split = write_block_split(folder.path);
  const Tensor resident = run(model_folder(), kernels, OffloadOptions{});
  for (const OffloadOptions& options : streamed_options()) {
    const std::string what = options.describe(false) + (options.cpu_offload ? " + cpu_offload" : "");
    EXPECT_TRUE(same_bytes(run(model_folder(), kernels, options), resident)) << what << ", one file";
    if (options.lazy_load) {
      EXPECT_TRUE(same_bytes(run(split, kernels, options), resident)) << what << ", block files";
    }
  }
}

TEST(WanOffload, StreamedRunsEqualTheResidentRunBitForBit) {
  expect_streamed_runs_match(WanDitKernels{});
}

TEST(WanOffload, StreamedQuantizedRunsEqualTheResidentRunBitForBit) {
  expect_streamed_runs_match(int8_kernels());
}

TEST(WanOffload, AMemoryLimitBelowTheModelFailsResidentAndPassesStreamed) {
  Device& device = test_device();
  if (device.host_accessible())
    GTEST_SKIP() << device.device_string() << " computes in host memory: its weights are the file's pages";
  Allocator& allocator = device.allocator();
  allocator.release_cache();
  const size_t before = allocator.stats().current_bytes;
  auto checkpoint = std::make_shared<const WanDitCheckpoint>(WanDitCheckpoint::open(model_folder()));
  size_t resident_peak = 0, streamed_peak = 0;
  {
    allocator.reset_peak();
    const WanDit model(checkpoint, WanDitKernels{}, Precision{}, device, OffloadOptions{});
    two_steps(model);
    resident_peak = allocator.stats().peak_bytes - before;
  }
  OffloadOptions offload;
  offload.cpu_offload = true;
  allocator.release_cache();
  {
    allocator.reset_peak();
    const WanDit model(checkpoint, WanDitKernels{}, Precision{}, device, offload);
    two_steps(model);
    streamed_peak = allocator.stats().peak_bytes - before;
  }
  ASSERT_LT(streamed_peak, resident_peak);
  // A limit between the two: the resident model no longer fits, the streamed one does.
  allocator.release_cache();
  allocator.set_limit(before + (streamed_peak + resident_peak) / 2);
  expect_error_mentioning(
      [&] {
        const WanDit model(checkpoint, WanDitKernels{}, Precision{}, device, OffloadOptions{});
        two_steps(model);
      },
      "X2V_MEMORY_LIMIT");
  allocator.release_cache();
  Tensor streamed;
  EXPECT_NO_THROW({
    const WanDit model(checkpoint, WanDitKernels{}, Precision{}, device, offload);
    streamed = two_steps(model);
  });
  allocator.set_limit(0);
  allocator.release_cache();
  const WanDit resident(checkpoint, WanDitKernels{}, Precision{}, device, OffloadOptions{});
  EXPECT_TRUE(same_bytes(streamed, two_steps(resident)));
}

TEST(WanOffload, BadCheckpointsAreNamedErrors) {
  OffloadOptions lazy;
  lazy.lazy_load = true;
  TemporaryDirectory folder("bad");
  const std::string split = write_block_split(folder.path);
  // A .pth streams too (its tensors are mapped like safetensors'), the same model.
  const fs::path pth = folder.path.string() + "_pth";
  ConvertOptions to_pth;
  to_pth.source = model_folder();
  to_pth.output = pth.string();
  to_pth.layout = OutputLayout::pth;
  to_pth.non_linear_dtype = std::nullopt;
  convert_checkpoint(to_pth);
  fs::copy(fs::path(model_folder()) / "config.json", pth / "config.json");
  EXPECT_TRUE(same_bytes(run((pth / "converted.pth").string(), WanDitKernels{}, lazy),
                         run(model_folder(), WanDitKernels{}, OffloadOptions{})));
  fs::remove_all(pth);
  // A block file that is gone is named before anything runs.
  fs::remove(fs::path(split) / "block_1.safetensors");
  expect_error_mentioning([&] { run(split, WanDitKernels{}, lazy); }, "block_1.safetensors");
  // A block tensor of the wrong size is named with the size the model expects.
  auto original = io::open_checkpoint((fs::path(split) / "block_0.safetensors").string());
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const std::string& name : original->names()) {
    Tensor tensor = original->load(name).to_host(DType::f32);
    if (name == "blocks.0.ffn.2.bias") tensor = Tensor::host({tensor.numel() - 1}, DType::f32);
    tensors.emplace_back(name, tensor);
  }
  original.reset();
  io::write_safetensors((fs::path(split) / "block_1.safetensors").string(), {});
  io::write_safetensors((fs::path(split) / "block_0.safetensors").string(), tensors);
  expect_error_mentioning([&] { run(split, WanDitKernels{}, lazy); }, "blocks.0.ffn.2.bias");
}

// The umT5 encoder streams its blocks the same way, from the .pth Wan ships and from safetensors, plain and
// int8 (weight_auto_quant), encoding twice (the stream wraps around).
TEST(WanOffload, LazyT5EqualsTheResidentEncoderBitForBit) {
  TokenizedText tokens;
  tokens.ids = {5, 17, 3, 42, 8, 1, 0, 0};
  tokens.length = 6;
  OffloadOptions lazy;
  lazy.lazy_load = true;
  lazy.num_disk_workers = 2;
  for (const char* path : {"t5/wan/models_t5_umt5-xxl-enc-bf16.pth", "t5/text_encoder"})
    for (const T5LinearOptions& linears : {T5LinearOptions{}, T5LinearOptions{"int8-vllm", true}}) {
      const std::string what = std::string(path) + (linears.scheme.empty() ? "" : ", int8");
      const auto resident = T5Encoder::open(fixture_path(path), Precision{}, test_device(), linears);
      const auto streamed = T5Encoder::open(fixture_path(path), Precision{}, test_device(), linears, lazy);
      const Tensor expected = resident->encode(tokens);
      EXPECT_TRUE(same_bytes(streamed->encode(tokens), expected)) << what;
      EXPECT_TRUE(same_bytes(streamed->encode(tokens), expected)) << what << ", second pass";
    }
}

// A model held in memory cannot be read by byte ranges: the fix is writing it block-split.
TEST(WanOffload, LazyLoadNeedsACheckpointOnDisk) {
  auto memory = std::make_unique<io::MemoryCheckpoint>("an in-memory model");
  auto file = io::open_checkpoint(model_folder());
  for (const std::string& name : file->names()) memory->add(name, file->load(name));
  auto checkpoint =
      std::make_shared<const WanDitCheckpoint>(WanDitCheckpoint::from_checkpoint(std::move(memory), nullptr));
  OffloadOptions lazy;
  lazy.lazy_load = true;
  expect_error_mentioning([&] { WanDit(checkpoint, WanDitKernels{}, Precision{}, test_device(), lazy); },
                          "--save_by_block");
}

TEST(WanOffload, UnknownGranularityListsTheAllowedValues) {
  const io::Config config(nlohmann::json{{"offload_granularity", "layer"}}, "test.json");
  expect_error_mentioning([&] { OffloadOptions::from_config(config); }, "block, phase, model");
  const io::Config workers(nlohmann::json{{"num_disk_workers", 0}}, "test.json");
  expect_error_mentioning([&] { OffloadOptions::from_config(workers); }, "num_disk_workers 0");
}

}  // namespace
}  // namespace x2v
