// The Wan2.1 DiT against the official PyTorch model (fixtures from tools/reference/make_dit_fixtures.py):
// f32 within 1e-4 relative, bf16 at cosine >= 0.999, both naming formats, T2V and I2V.
#include <unistd.h>

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include <filesystem>

#include "fixtures.h"
#include "io/safetensors.h"
#include "models/wan/dit_model.h"
#include "platform/platform.h"
#include "support/test_device.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

using testing::test_device;

using testing::expect_error_mentioning;

using testing::cosine_similarity;
using testing::fixture_path;
using testing::load_fixture;
using testing::relative_error;

constexpr double kF32Tolerance = testing::kModelF32Tolerance;
constexpr double kBf16Cosine = testing::kDitBf16Cosine;

WanDitInputs forward_inputs(const std::string& variant) {
  const std::string file = "wan_dit/" + variant + "/forward_inputs.safetensors";
  WanDitInputs inputs;
  inputs.x = load_fixture(file, "x");
  inputs.timestep = load_fixture(file, "t").to_floats()[0];
  inputs.context = load_fixture(file, "context");
  if (variant == "i2v") {
    inputs.clip_features = load_fixture(file, "clip_fea");
    inputs.y = load_fixture(file, "y");
  }
  return inputs;
}

struct ForwardRun {
  Tensor out;
  std::map<std::string, Tensor> observed;
};

ForwardRun run_forward(const std::string& variant, const std::string& model_dir, Precision precision) {
  const WanDitCheckpoint checkpoint =
      WanDitCheckpoint::open(fixture_path("wan_dit/" + variant + "/" + model_dir));
  WanDitKernels kernels;
  WanDit model(checkpoint, kernels, precision, test_device());
  ForwardRun run;
  model.set_observer([&](const std::string& name, const Tensor& value) { run.observed[name] = value; });
  run.out = model.forward(forward_inputs(variant));
  return run;
}

void expect_matches_reference(const std::string& variant, const std::string& model_dir) {
  const ForwardRun run = run_forward(variant, model_dir, Precision{DType::f32, DType::f32});
  const std::string outputs = "wan_dit/" + variant + "/forward_outputs.safetensors";
  EXPECT_LE(relative_error(run.observed.at("time_embedding"), load_fixture(outputs, "time_embedding")),
            kF32Tolerance);
  EXPECT_LE(relative_error(run.observed.at("time_projection"), load_fixture(outputs, "time_projection")),
            kF32Tolerance);
  const Tensor text = load_fixture(outputs, "text_embedding");
  EXPECT_LE(
      relative_error(run.observed.at("text_embedding").slice(0, 0, text.size(0)).to_host(DType::f32), text),
      kF32Tolerance);
  for (int block = 0; block < 2; ++block) {
    const std::string name = "block_" + std::to_string(block);
    EXPECT_LE(relative_error(run.observed.at(name), load_fixture(outputs, name)), kF32Tolerance) << name;
  }
  EXPECT_LE(relative_error(run.out, load_fixture(outputs, "out")), kF32Tolerance);
}

TEST(WanDit, T2vOriginalNamesMatchReferenceInF32) {
  expect_matches_reference("t2v", "model_original");
}
TEST(WanDit, T2vDiffusersNamesMatchReferenceInF32) {
  expect_matches_reference("t2v", "model_diffusers");
}
TEST(WanDit, I2vMatchesReferenceInF32) {
  expect_matches_reference("i2v", "model_original");
}

TEST(WanDit, Bf16IsCloseToReference) {
  for (const std::string variant : {"t2v", "i2v"}) {
    const ForwardRun run = run_forward(variant, "model_original", Precision{DType::bf16, DType::bf16});
    const Tensor expected = load_fixture("wan_dit/" + variant + "/forward_outputs.safetensors", "out");
    EXPECT_GE(cosine_similarity(run.out, expected), kBf16Cosine) << variant;
  }
}

TEST(WanDit, ConfigComesFromConfigJsonAndShapes) {
  const WanDitCheckpoint original = WanDitCheckpoint::open(fixture_path("wan_dit/t2v/model_original"));
  const WanDitCheckpoint diffusers = WanDitCheckpoint::open(fixture_path("wan_dit/t2v/model_diffusers"));
  for (const WanDitCheckpoint* checkpoint : {&original, &diffusers}) {
    const WanDitConfig& config = checkpoint->config();
    EXPECT_EQ(config.dim, 128);
    EXPECT_EQ(config.num_heads, 2);
    EXPECT_EQ(config.num_layers, 2);
    EXPECT_EQ(config.ffn_dim, 256);
    EXPECT_EQ(config.text_dim, 32);
    EXPECT_EQ(config.model_type, "t2v");
  }
  EXPECT_EQ(original.naming(), WanWeightNaming::original);
  EXPECT_EQ(diffusers.naming(), WanWeightNaming::diffusers);
  const WanDitCheckpoint i2v = WanDitCheckpoint::open(fixture_path("wan_dit/i2v/model_original"));
  EXPECT_EQ(i2v.config().model_type, "i2v");
  EXPECT_EQ(i2v.config().in_dim, 36);
  EXPECT_EQ(i2v.config().clip_dim, 48);
}

TEST(WanDit, TensorTableMatchesTheReferenceCheckpoints) {
  for (const std::string variant : {"t2v", "i2v"}) {
    const WanDitCheckpoint checkpoint =
        WanDitCheckpoint::open(fixture_path("wan_dit/" + variant + "/model_original"));
    const auto table = wan_dit_tensor_shapes(checkpoint.config());
    EXPECT_EQ(table.size(), checkpoint.checkpoint().names().size()) << variant;
    for (const auto& [name, shape] : table) {
      ASSERT_TRUE(checkpoint.checkpoint().contains(name)) << name;
      EXPECT_EQ(checkpoint.checkpoint().info(name).shape, shape) << name;
    }
  }
}

TEST(WanDit, DiffusersNamesSwapNorm2AndNorm3) {
  EXPECT_EQ(wan_diffusers_name("blocks.3.norm3.weight"), "blocks.3.norm2.weight");
  EXPECT_EQ(wan_diffusers_name("blocks.0.cross_attn.k_img.bias"), "blocks.0.attn2.add_k_proj.bias");
  EXPECT_EQ(wan_diffusers_name("head.modulation"), "scale_shift_table");
  EXPECT_EQ(wan_diffusers_name("blocks.1.modulation"), "blocks.1.scale_shift_table");
}

TEST(WanDit, BadInputsAreClearErrors) {
  const WanDitCheckpoint checkpoint = WanDitCheckpoint::open(fixture_path("wan_dit/t2v/model_original"));
  const WanDit model(checkpoint, WanDitKernels{}, Precision{DType::f32, DType::f32}, test_device());
  const WanDitInputs good = forward_inputs("t2v");
  WanDitInputs inputs = good;
  inputs.x = Tensor::host({17, 3, 8, 12}, DType::f32);
  expect_error_mentioning([&] { model.check_inputs(inputs); }, "takes 16 input channels");
  inputs = good;
  inputs.x = Tensor::host({16, 3, 7, 12}, DType::f32);
  expect_error_mentioning([&] { model.check_inputs(inputs); }, "multiples of 2");
  inputs = good;
  inputs.context = Tensor::host({7, 40}, DType::f32);
  expect_error_mentioning([&] { model.check_inputs(inputs); }, "expected [tokens, 32]");
  inputs = good;
  inputs.y = Tensor::host({20, 3, 8, 12}, DType::f32);
  expect_error_mentioning([&] { model.check_inputs(inputs); }, "channels");
}

TEST(WanDit, MissingBlockTensorIsNamed) {
  namespace fs = std::filesystem;
  // Per process: ctest runs this binary several times at once (devices, instruction-set caps).
  const fs::path directory =
      fs::temp_directory_path() / ("x2v_missing_tensor_model_" + std::to_string(::getpid()));
  fs::create_directories(directory);
  fs::copy_file(fixture_path("wan_dit/t2v/model_original/config.json"), directory / "config.json",
                fs::copy_options::overwrite_existing);
  auto source = io::open_checkpoint(fixture_path("wan_dit/t2v/model_original"));
  std::vector<std::pair<std::string, Tensor>> kept;
  for (const std::string& name : source->names())
    if (name != "blocks.1.ffn.2.bias") kept.emplace_back(name, source->load(name));
  io::write_safetensors((directory / "diffusion_pytorch_model.safetensors").string(), kept);
  const WanDitCheckpoint checkpoint = WanDitCheckpoint::open(directory.string());
  expect_error_mentioning(
      [&] {
        WanDit(checkpoint, WanDitKernels{}, Precision{DType::f32, DType::f32}, test_device());
      },
      "has no tensor 'blocks.1.ffn.2.bias'");
  fs::remove_all(directory);
}

TEST(WanDit, UnknownKernelNameIsAnError) {
  const WanDitCheckpoint checkpoint = WanDitCheckpoint::open(fixture_path("wan_dit/t2v/model_original"));
  WanDitKernels kernels;
  kernels.self_attention = "radial_attn";
  expect_error_mentioning(
      [&] {
        WanDit(checkpoint, kernels, Precision{DType::f32, DType::f32}, test_device());
      },
      "unknown attention kernel 'radial_attn'");
}

}  // namespace
}  // namespace x2v
