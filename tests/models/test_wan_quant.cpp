// The quantized Wan2.1 DiT against the PyTorch reference (fixtures from
// tools/reference/make_quant_fixtures.py): our int8/fp8 weights equal the reference's bit for bit;
// LightX2V-layout checkpoints made of the reference's quantized linears run and match the official model's
// fake-quantized forward; weight_auto_quant gives the same model; bad checkpoints and configs are one-line
// errors naming the tensor or the setting.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

#include "fixtures.h"
#include "io/safetensors.h"
#include "models/wan/dit_model.h"
#include "platform/platform.h"
#include "quant/quantize.h"
#include "support/test_device.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

using testing::test_device;

using testing::expect_error_mentioning;
using testing::same_bytes;

namespace fs = std::filesystem;
using testing::cosine_similarity;
using testing::fixture_path;
using testing::load_fixture;
using testing::relative_error;

const char* const kLinears[] = {"self_attn.q",  "self_attn.k",  "self_attn.v",  "self_attn.o", "cross_attn.q",
                                "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0",       "ffn.2"};
constexpr int kBlocks = 2;

std::string linears_file(QuantFormat format) {
  return fixture_path(std::string("wan_quant/t2v_") + quant_format_name(format) + "_linears.safetensors");
}

std::string scheme_of(QuantFormat format) {
  return format == QuantFormat::int8 ? "int8-vllm" : "fp8-sgl";
}

WanDitInputs forward_inputs() {
  const std::string file = "wan_dit/t2v/forward_inputs.safetensors";
  WanDitInputs inputs;
  inputs.x = load_fixture(file, "x");
  inputs.timestep = load_fixture(file, "t").to_floats()[0];
  inputs.context = load_fixture(file, "context");
  return inputs;
}

// A scratch directory removed at the end of the test.
struct TemporaryDirectory {
  fs::path path;
  explicit TemporaryDirectory(const std::string& name)
      : path(fs::temp_directory_path() / ("x2v_quant_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TemporaryDirectory() { fs::remove_all(path); }
};

using Tensors = std::vector<std::pair<std::string, Tensor>>;

// A LightX2V-layout checkpoint: model_original's tensors with the block linears replaced by the reference's
// quantized ones (`<name>.weight` + `<name>.weight_scale`), optionally renamed and then edited by `edit`.
std::string write_quantized_checkpoint(
    const fs::path& directory, QuantFormat format, const std::function<void(Tensors&)>& edit = nullptr,
    const std::function<std::string(const std::string&)>& rename = nullptr) {
  auto original = io::open_checkpoint(fixture_path("wan_dit/t2v/model_original"));
  auto quantized = io::open_checkpoint(linears_file(format));
  Tensors tensors;
  for (const std::string& name : original->names())
    tensors.emplace_back(name, quantized->contains(name) ? quantized->load(name) : original->load(name));
  for (const std::string& name : quantized->names())
    if (!original->contains(name)) tensors.emplace_back(name, quantized->load(name));
  if (rename)
    for (auto& [name, tensor] : tensors) name = rename(name);
  if (edit) edit(tensors);
  const std::string path = (directory / "diffusion_pytorch_model.safetensors").string();
  io::write_safetensors(path, tensors);
  return path;
}

Tensor run_model(const WanDitCheckpoint& model, const WanDitKernels& kernels, Precision precision) {
  return WanDit(model, kernels, precision, test_device()).forward(forward_inputs());
}

WanDitCheckpoint original_model() {
  return WanDitCheckpoint::open(fixture_path("wan_dit/t2v/model_original"));
}

WanDitKernels quantized_kernels(QuantFormat format, const std::string& checkpoint) {
  WanDitKernels kernels;
  kernels.block_mm = scheme_of(format);
  kernels.quantized_checkpoint = checkpoint;
  return kernels;
}

TEST(WanQuant, OurQuantizedWeightsMatchTheReferenceBitForBit) {
  const WanDitCheckpoint model = original_model();
  auto original = io::open_checkpoint(fixture_path("wan_dit/t2v/model_original"));
  for (QuantFormat format : {QuantFormat::int8, QuantFormat::fp8_e4m3}) {
    auto reference = io::open_checkpoint(linears_file(format));
    int compared = 0;
    for (int block = 0; block < kBlocks; ++block)
      for (const char* linear : kLinears) {
        const std::string name = "blocks." + std::to_string(block) + "." + linear;
        const Tensor expected_weight = reference->load(name + ".weight");
        const Tensor expected_scale = reference->load(name + ".weight_scale");
        ASSERT_EQ(expected_weight.dtype(), quant_storage_dtype(format)) << name;
        ASSERT_EQ(expected_scale.shape(), (Shape{expected_weight.size(0), 1})) << name;
        // Directly from the stored bf16 weight, and through the loader's weight_auto_quant path.
        const QuantizedWeight ours = quantize_weight(original->load(name + ".weight"), format);
        EXPECT_TRUE(same_bytes(ours.weight, expected_weight)) << name;
        EXPECT_TRUE(same_bytes(ours.scale, expected_scale)) << name;
        const QuantizedWeight loaded =
            model.load_quantized(name, expected_weight.shape(), format, scheme_of(format),
                                 /*auto_quant=*/true, test_device());
        EXPECT_TRUE(same_bytes(loaded.weight, expected_weight)) << name;
        EXPECT_TRUE(same_bytes(loaded.scale, expected_scale)) << name;
        ++compared;
      }
    EXPECT_EQ(compared, kBlocks * 10);
  }
}

// The reference's quantized checkpoint through dit_quantized_ckpt, in f32 (tight: it is the fake-quantized
// reference up to f32 rounding, much closer to it than the unquantized model is) and in bf16 compute.
void expect_matches_fake_quantized_reference(QuantFormat format) {
  TemporaryDirectory directory(std::string("reference_") + quant_format_name(format));
  write_quantized_checkpoint(directory.path, format);
  const WanDitCheckpoint model = original_model();
  const WanDitKernels kernels = quantized_kernels(format, directory.path.string());
  const Tensor fake =
      load_fixture("wan_quant/forward_outputs.safetensors", std::string(quant_format_name(format)) + "_out");
  const Tensor plain = load_fixture("wan_dit/t2v/forward_outputs.safetensors", "out");
  const Tensor f32 = run_model(model, kernels, Precision{DType::f32, DType::f32});
  EXPECT_GE(cosine_similarity(f32, fake), 0.999) << quant_format_name(format);
  const double quantization_effect = relative_error(fake, plain);
  EXPECT_LE(relative_error(f32, fake), testing::kQuantizedShareOfEffect * quantization_effect)
      << quant_format_name(format)
      << ": not the reference's quantization (its effect: " << quantization_effect << ")";
  const Tensor bf16 = run_model(model, kernels, Precision{DType::bf16, DType::bf16});
  EXPECT_GE(cosine_similarity(bf16, fake), 0.999) << quant_format_name(format);
  EXPECT_GE(cosine_similarity(bf16, plain), 0.99) << quant_format_name(format);
}

TEST(WanQuant, Int8CheckpointMatchesTheFakeQuantizedReference) {
  expect_matches_fake_quantized_reference(QuantFormat::int8);
}

TEST(WanQuant, Fp8CheckpointMatchesTheFakeQuantizedReference) {
  expect_matches_fake_quantized_reference(QuantFormat::fp8_e4m3);
}

// weight_auto_quant on the bf16 model, a quantized model directory (no dit_quantized_ckpt) and diffusers
// names, and the reference script's folder all load the same weights, so they give the same output to the
// bit.
TEST(WanQuant, AutoQuantAndEveryLayoutGiveTheSameModel) {
  const WanDitCheckpoint model = original_model();
  const Precision precision{DType::f32, DType::f32};
  for (QuantFormat format : {QuantFormat::int8, QuantFormat::fp8_e4m3}) {
    TemporaryDirectory original_names(std::string("names_") + quant_format_name(format));
    write_quantized_checkpoint(original_names.path, format);
    const Tensor expected =
        run_model(model, quantized_kernels(format, original_names.path.string()), precision);

    WanDitKernels auto_quant;
    auto_quant.block_mm = scheme_of(format);
    auto_quant.weight_auto_quant = true;
    EXPECT_TRUE(same_bytes(run_model(model, auto_quant, precision), expected)) << quant_format_name(format);

    fs::copy_file(fixture_path("wan_dit/t2v/model_original/config.json"),
                  original_names.path / "config.json");
    const WanDitCheckpoint quantized_directory = WanDitCheckpoint::open(original_names.path.string());
    EXPECT_TRUE(
        same_bytes(run_model(quantized_directory, quantized_kernels(format, ""), precision), expected))
        << quant_format_name(format);

    // The reference script's own layout: its linears file and the unquantized rest in one folder, which
    // x2v (like LightX2V) reads as one checkpoint.
    TemporaryDirectory reference(std::string("folder_") + quant_format_name(format));
    fs::copy_file(linears_file(format), reference.path / "linears.safetensors");
    fs::copy_file(fixture_path("wan_quant/t2v_unquantized_rest.safetensors"),
                  reference.path / "rest.safetensors");
    EXPECT_TRUE(
        same_bytes(run_model(model, quantized_kernels(format, reference.path.string()), precision), expected))
        << quant_format_name(format);

    TemporaryDirectory diffusers(std::string("diffusers_") + quant_format_name(format));
    write_quantized_checkpoint(diffusers.path, format, nullptr, wan_diffusers_name);
    EXPECT_TRUE(
        same_bytes(run_model(model, quantized_kernels(format, diffusers.path.string()), precision), expected))
        << quant_format_name(format);
  }
}

TEST(WanQuant, ConfigKeysSelectTheQuantizedLinears) {
  const WanDitKernels kernels =
      WanDitKernels::from_config(io::Config(nlohmann::json{{"dit_quantized", true},
                                                           {"dit_quant_scheme", "int8-torchao"},
                                                           {"dit_quantized_ckpt", "/models/int8"}}));
  EXPECT_EQ(kernels.block_mm, "int8-torchao");
  EXPECT_EQ(kernels.quantized_checkpoint, "/models/int8");
  EXPECT_FALSE(kernels.weight_auto_quant);
  EXPECT_EQ(kernels.mm, "");
  const WanDitKernels automatic = WanDitKernels::from_config(
      io::Config(nlohmann::json{{"dit_quant_scheme", "fp8-vllm"},
                                {"weight_auto_quant", true},
                                {"dit_quantized_ckpt", "/ignored/without/dit_quantized"}}));
  EXPECT_EQ(automatic.block_mm, "fp8-vllm");
  EXPECT_TRUE(automatic.weight_auto_quant);
  EXPECT_EQ(automatic.quantized_checkpoint, "");
  EXPECT_EQ(WanDitKernels::from_config(io::Config()).block_mm, "");
  expect_error_mentioning(
      [] {
        WanDitKernels::from_config(io::Config(nlohmann::json{{"dit_quantized", true}}));
      },
      "dit_quantized is true but dit_quant_scheme is ''");
}

TEST(WanQuant, BadCheckpointsAndSchemesAreNamedErrors) {
  const WanDitCheckpoint model = original_model();
  const Precision precision{DType::f32, DType::f32};
  auto load_with = [&](const WanDitCheckpoint& checkpoint, const WanDitKernels& kernels) {
    WanDit(checkpoint, kernels, precision, test_device());
  };
  auto drop = [](const std::string& name) {
    return [name](Tensors& tensors) {
      std::erase_if(tensors, [&](const auto& entry) { return entry.first == name; });
    };
  };
  {
    TemporaryDirectory directory("missing_scale");
    write_quantized_checkpoint(directory.path, QuantFormat::int8, drop("blocks.1.ffn.2.weight_scale"));
    expect_error_mentioning(
        [&] { load_with(model, quantized_kernels(QuantFormat::int8, directory.path.string())); },
        "tensor 'blocks.1.ffn.2.weight_scale' is missing");
  }
  {
    TemporaryDirectory directory("misshaped_scale");
    write_quantized_checkpoint(directory.path, QuantFormat::int8, [](Tensors& tensors) {
      for (auto& [name, tensor] : tensors)
        if (name == "blocks.0.self_attn.q.weight_scale") tensor = Tensor::host({128, 2}, DType::f32);
    });
    expect_error_mentioning(
        [&] { load_with(model, quantized_kernels(QuantFormat::int8, directory.path.string())); },
        "tensor 'blocks.0.self_attn.q.weight_scale' is f32[128, 2]; expected a float [128, 1]");
  }
  {
    TemporaryDirectory directory("int8_as_fp8");
    write_quantized_checkpoint(directory.path, QuantFormat::int8);
    expect_error_mentioning(
        [&] { load_with(model, quantized_kernels(QuantFormat::fp8_e4m3, directory.path.string())); },
        "tensor 'blocks.0.self_attn.q.weight' is int8 but dit_quant_scheme 'fp8-sgl' takes fp8");
    TemporaryDirectory fp8("fp8_as_int8");
    write_quantized_checkpoint(fp8.path, QuantFormat::fp8_e4m3);
    expect_error_mentioning(
        [&] { load_with(model, quantized_kernels(QuantFormat::int8, fp8.path.string())); },
        "is fp8 but dit_quant_scheme 'int8-vllm' takes int8");
    // A quantized checkpoint read as an unquantized one.
    fs::copy_file(fixture_path("wan_dit/t2v/model_original/config.json"), directory.path / "config.json");
    expect_error_mentioning(
        [&] { load_with(WanDitCheckpoint::open(directory.path.string()), WanDitKernels{}); },
        "tensor 'blocks.0.self_attn.q.weight' is stored int8");
  }
  WanDitKernels float_weights;
  float_weights.block_mm = "int8-vllm";
  expect_error_mentioning([&] { load_with(model, float_weights); }, "set weight_auto_quant");
  WanDitKernels unsupported;
  unsupported.block_mm = "nvfp4";
  expect_error_mentioning([&] { load_with(model, unsupported); },
                          "dit_quant_scheme 'nvfp4' is not supported on platform '" + test_device().name() +
                              "'; quantized schemes there:");
  expect_error_mentioning([&] { load_with(model, unsupported); }, "int8-vllm");
  expect_error_mentioning(
      [&] {
        load_with(model, quantized_kernels(QuantFormat::int8, fixture_path("wan_dit/i2v/model_original")));
      },
      "holds a i2v");
}

}  // namespace
}  // namespace x2v
