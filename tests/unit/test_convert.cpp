// x2v convert (pipeline/convert.h) on the small DiT and T5 fixtures: renaming gives exactly the reference's
// other naming and back; quantizing gives the reference's int8/fp8 weights and scales bit for bit
// (tests/fixtures/wan_quant, tools/reference/make_quant_fixtures.py); the output layouts; bad inputs are
// Errors that leave nothing behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "models/wan/dit_weights.h"
#include "models/wan/t5_weights.h"
#include "pipeline/convert.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

using testing::expect_error_mentioning;
using testing::same_bytes;

namespace fs = std::filesystem;

std::string fixture(const std::string& relative) {
  return std::string(X2V_FIXTURES_DIR) + "/" + relative;
}

const std::string kDitOriginal = fixture("wan_dit/t2v/model_original");
const std::string kDitDiffusers = fixture("wan_dit/t2v/model_diffusers");
const std::string kT5Wan = fixture("t5/wan/models_t5_umt5-xxl-enc-bf16.pth");
const std::string kT5Transformers = fixture("t5/text_encoder/model.safetensors");

// A fresh scratch folder, removed with everything in it.
struct Scratch {
  fs::path path;
  Scratch() {
    static int counter = 0;
    path = fs::temp_directory_path() / concat("x2v-convert-", ::getpid(), "-", counter++);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Scratch() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// Every tensor of `expected` is in `actual` under `rename(name)` with the same bytes, and nothing else is.
void expect_same_checkpoint(const std::string& actual_path, const std::string& expected_path,
                            const std::function<std::string(const std::string&)>& rename) {
  auto actual = io::open_checkpoint(actual_path);
  auto expected = io::open_checkpoint(expected_path);
  EXPECT_EQ(actual->names().size(), expected->names().size()) << actual_path;
  for (const std::string& name : expected->names()) {
    const std::string renamed = rename(name);
    ASSERT_TRUE(actual->contains(renamed)) << renamed << " missing from " << actual_path;
    EXPECT_TRUE(same_bytes(actual->load(renamed), expected->load(name))) << renamed;
  }
}

ConvertOptions options_for(const std::string& source, const std::string& output) {
  ConvertOptions options;
  options.source = source;
  options.output = output;
  return options;
}

std::string identity(const std::string& name) {
  return name;
}

TEST(Convert, DitForwardGivesTheDiffusersCheckpointAndBackwardTheOriginal) {
  Scratch scratch;
  ConvertOptions forward = options_for(kDitOriginal, scratch / "diffusers");
  forward.direction = NameDirection::forward;
  forward.layout = OutputLayout::single_file;
  const ConvertResult result = convert_checkpoint(forward);
  EXPECT_EQ(result.files, std::vector<std::string>{"converted.safetensors"});
  // The reference's diffusers export of the same weights, name for name and byte for byte.
  expect_same_checkpoint(scratch / "diffusers/converted.safetensors", kDitDiffusers, identity);
  expect_same_checkpoint(scratch / "diffusers/converted.safetensors", kDitOriginal, wan_diffusers_name);

  ConvertOptions backward = options_for(scratch / "diffusers", scratch / "original");
  backward.direction = NameDirection::backward;
  convert_checkpoint(backward);
  expect_same_checkpoint(scratch / "original", kDitOriginal, identity);

  // Asking for the naming a checkpoint already has keeps it; no direction keeps any naming.
  ConvertOptions again = options_for(kDitDiffusers, scratch / "again");
  again.direction = NameDirection::forward;
  convert_checkpoint(again);
  expect_same_checkpoint(scratch / "again", kDitDiffusers, identity);
  convert_checkpoint(options_for(kDitDiffusers, scratch / "kept"));
  expect_same_checkpoint(scratch / "kept", kDitDiffusers, identity);
}

TEST(Convert, T5ForwardGivesTheTransformersCheckpointAndBackwardTheWanOne) {
  Scratch scratch;
  ConvertOptions forward = options_for(kT5Wan, scratch / "transformers");
  forward.model_type = ConvertModelType::wan_t5;
  forward.direction = NameDirection::forward;
  convert_checkpoint(forward);
  expect_same_checkpoint(scratch / "transformers", kT5Transformers, identity);

  ConvertOptions backward = options_for(kT5Transformers, scratch / "wan");
  backward.model_type = ConvertModelType::wan_t5;
  backward.direction = NameDirection::backward;
  backward.layout = OutputLayout::pth;
  convert_checkpoint(backward);
  expect_same_checkpoint(scratch / "wan/converted.pth", kT5Wan, identity);
}

const char* const kDitLinears[] = {"self_attn.q",  "self_attn.k",  "self_attn.v",  "self_attn.o",
                                   "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o",
                                   "ffn.0",        "ffn.2"};

// The converted checkpoint at `path` (names through `rename`) holds the reference's quantized linears and
// every other tensor of model_original with its values, as `other_dtype` (nullopt: as stored).
void expect_reference_quantization(const std::string& path, QuantFormat format,
                                   std::optional<DType> other_dtype,
                                   const std::function<std::string(const std::string&)>& rename) {
  auto converted = io::open_checkpoint(path);
  auto reference = io::open_checkpoint(
      fixture(std::string("wan_quant/t2v_") + quant_format_name(format) + "_linears.safetensors"));
  auto original = io::open_checkpoint(kDitOriginal);
  int quantized = 0;
  for (int block = 0; block < 2; ++block)
    for (const char* linear : kDitLinears) {
      const std::string name = concat("blocks.", block, ".", linear);
      for (const std::string suffix : {".weight", ".weight_scale"}) {
        const std::string stored = rename(name + suffix);
        ASSERT_TRUE(converted->contains(stored)) << stored;
        EXPECT_TRUE(same_bytes(converted->load(stored), reference->load(name + suffix))) << stored;
      }
      ++quantized;
    }
  EXPECT_EQ(quantized, 20);
  EXPECT_EQ(converted->names().size(), original->names().size() + 20);
  for (const std::string& name : original->names()) {
    if (reference->contains(name)) continue;
    const Tensor value = converted->load(rename(name));
    const Tensor source = original->load(name);
    EXPECT_EQ(value.dtype(), other_dtype.value_or(source.dtype())) << name;
    EXPECT_TRUE(same_bytes(value, source.to_host(value.dtype()))) << name;
  }
}

TEST(Convert, QuantizedLinearsEqualTheReferenceBitForBit) {
  for (QuantFormat format : {QuantFormat::int8, QuantFormat::fp8_e4m3}) {
    Scratch scratch;
    ConvertOptions options = options_for(kDitOriginal, scratch / "out");
    options.linear_type = format;
    options.layout = OutputLayout::by_block;
    const ConvertResult result = convert_checkpoint(options);
    EXPECT_EQ(result.quantized, 20);
    expect_reference_quantization(scratch / "out", format, DType::f32, identity);

    // Diffusers names: the same linears are found (attention included) and keep their names.
    ConvertOptions diffusers = options_for(kDitDiffusers, scratch / "diffusers");
    diffusers.linear_type = format;
    diffusers.non_linear_dtype = std::nullopt;
    EXPECT_EQ(convert_checkpoint(diffusers).quantized, 20);
    expect_reference_quantization(scratch / "diffusers", format, std::nullopt, wan_diffusers_name);
  }
}

TEST(Convert, T5QuantizesTheBlockAttentionAndFfnLinears) {
  Scratch scratch;
  ConvertOptions options = options_for(kT5Transformers, scratch / "out");
  options.model_type = ConvertModelType::wan_t5;
  options.linear_type = QuantFormat::int8;
  options.non_linear_dtype = DType::bf16;
  EXPECT_EQ(convert_checkpoint(options).quantized, 2 * 7);  // q, k, v, o, gate, fc1, fc2 per block
  auto converted = io::open_checkpoint(scratch / "out");
  EXPECT_EQ(converted->info("encoder.block.1.layer.1.DenseReluDense.wo.weight").dtype, DType::i8);
  EXPECT_EQ(converted->info("encoder.block.1.layer.1.DenseReluDense.wo.weight_scale").shape, (Shape{64, 1}));
  EXPECT_EQ(converted->info("encoder.block.0.layer.0.SelfAttention.q.weight").dtype, DType::i8);
  EXPECT_EQ(converted->info("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight").dtype,
            DType::bf16);
  EXPECT_EQ(converted->info("shared.weight").dtype, DType::bf16);
}

TEST(Convert, LayoutsAreLightX2Vs) {
  Scratch scratch;
  ConvertOptions by_block = options_for(kDitOriginal, scratch / "blocks");
  by_block.layout = OutputLayout::by_block;
  EXPECT_EQ(convert_checkpoint(by_block).files,
            (std::vector<std::string>{"block_0.safetensors", "block_1.safetensors", "non_block.safetensors",
                                      kConvertIndexName}));
  std::ifstream stream(scratch / ("blocks/" + std::string(kConvertIndexName)));
  const nlohmann::json index = nlohmann::json::parse(stream);
  EXPECT_EQ(index["weight_map"]["blocks.1.ffn.2.weight"], "block_1.safetensors");
  EXPECT_EQ(index["weight_map"]["head.head.weight"], "non_block.safetensors");
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(),
            fs::file_size(scratch / "blocks/block_0.safetensors") +
                fs::file_size(scratch / "blocks/block_1.safetensors") +
                fs::file_size(scratch / "blocks/non_block.safetensors"));
  auto block = io::open_checkpoint(scratch / "blocks/block_1.safetensors");
  for (const std::string& name : block->names()) EXPECT_EQ(name.rfind("blocks.1.", 0), 0u) << name;
  expect_same_checkpoint(scratch / "blocks", kDitOriginal, identity);

  ConvertOptions chunked = options_for(kDitOriginal, scratch / "chunks");
  chunked.chunk_size = 30;
  chunked.output_name = "wan";
  chunked.copy_no_weight_files = true;
  const ConvertResult result = convert_checkpoint(chunked);  // 69 tensors: 30 + 30 + 9
  EXPECT_EQ(result.files,
            (std::vector<std::string>{"wan_part0.safetensors", "wan_part1.safetensors",
                                      "wan_part2.safetensors", kConvertIndexName, "config.json"}));
  expect_same_checkpoint(scratch / "chunks", kDitOriginal, identity);
  // The copied config.json makes the output a model folder of its own.
  EXPECT_EQ(WanDitCheckpoint::open(scratch / "chunks").config().num_heads, 2);
}

TEST(Convert, BadInputsAreErrorsThatLeaveNothing) {
  Scratch scratch;
  const std::string output = scratch / "out";
  expect_error_mentioning([&] { convert_checkpoint(options_for(kDitOriginal, kDitOriginal)); },
                          "is the folder of the source");
  ConvertOptions t5_as_dit = options_for(kT5Transformers, output);
  expect_error_mentioning([&] { convert_checkpoint(t5_as_dit); }, "not a Wan DiT checkpoint");
  ConvertOptions dit_as_t5 = options_for(kDitOriginal, output);
  dit_as_t5.model_type = ConvertModelType::wan_t5;
  expect_error_mentioning([&] { convert_checkpoint(dit_as_t5); }, "not a umT5 encoder checkpoint");
  expect_error_mentioning([] { parse_convert_model_type("wan_vae"); }, "use wan_dit");
  expect_error_mentioning([] { parse_name_direction("sideways"); }, "neither forward");
  expect_error_mentioning([&] { convert_checkpoint(options_for(kDitOriginal, scratch / "x.safetensors")); },
                          "looks like a file name");

  // A quantized checkpoint cannot be quantized again; the error comes before anything is written.
  ConvertOptions quantize = options_for(kDitOriginal, scratch / "int8");
  quantize.linear_type = QuantFormat::int8;
  quantize.layout = OutputLayout::single_file;
  convert_checkpoint(quantize);
  ConvertOptions twice = options_for(scratch / "int8/converted.safetensors", output);
  twice.linear_type = QuantFormat::fp8_e4m3;
  expect_error_mentioning([&] { convert_checkpoint(twice); }, "is already quantized");

  // A bad LoRA fails before the first file; an existing output folder keeps exactly what it had.
  ConvertOptions lora = options_for(kDitOriginal, output);
  lora.loras = {{fixture("lora/lora_bad_shape.safetensors"), 1.0, std::nullopt}};
  expect_error_mentioning([&] { convert_checkpoint(lora); }, "does not fit");
  fs::create_directories(output);
  std::ofstream(output + "/keep.txt") << "mine";
  lora.loras = {{fixture("lora/lora_unmatched.safetensors"), 1.0, std::nullopt}};
  expect_error_mentioning([&] { convert_checkpoint(lora); }, "does not have");
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(scratch.path))
    left.push_back(entry.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"int8", "out"}));
  EXPECT_EQ(std::distance(fs::directory_iterator(output), fs::directory_iterator()), 1);
}

}  // namespace
}  // namespace x2v
