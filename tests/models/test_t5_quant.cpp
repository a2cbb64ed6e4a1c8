// The quantized umT5 encoder (t5_quantized / t5_quant_scheme) against the PyTorch reference (fixtures from
// tools/reference/make_quant_fixtures.py): a LightX2V-layout umT5 made of the reference's int8/fp8 linears
// matches the official T5Encoder's fake-quantized output; weight_auto_quant gives the same encoder, and in
// both namings; the loader's errors name the tensor and the setting.
#include <gtest/gtest.h>

#include <functional>

#include "fixtures.h"
#include "io/memory_checkpoint.h"
#include "models/wan/t5_encoder.h"
#include "platform/platform.h"
#include "support/test_device.h"
#include "t5_cases.h"

namespace x2v {
namespace {

using testing::test_device;

using testing::cosine_similarity;
using testing::fixture_path;
using testing::load_fixture;
using testing::relative_error;

constexpr int64_t kTextLen = 512;
const char* const kT5File = "t5/wan/models_t5_umt5-xxl-enc-bf16.pth";

TokenizedText case_tokens(size_t index) {
  return testing::t5_case_tokens(testing::t5_encoder_cases()["cases"][index], kTextLen);
}

std::string scheme_of(QuantFormat format) {
  return format == QuantFormat::int8 ? "int8-vllm" : "fp8-sgl";
}

// The umT5 fixture with its block linears replaced by the reference's quantized ones (LightX2V's layout),
// each name passed through `rename`, then edited by `edit`.
io::MemoryCheckpoint quantized_t5(QuantFormat format,
                                  const std::function<std::string(const std::string&)>& rename = nullptr,
                                  const std::function<void(io::MemoryCheckpoint&)>& edit = nullptr) {
  const auto original = io::open_checkpoint(fixture_path(kT5File));
  const auto linears = io::open_checkpoint(
      fixture_path(std::string("wan_quant/t5_") + quant_format_name(format) + "_linears.safetensors"));
  io::MemoryCheckpoint checkpoint("quantized umT5");
  const auto name_of = [&](const std::string& name) { return rename ? rename(name) : name; };
  for (const std::string& name : original->names())
    checkpoint.add(name_of(name), linears->contains(name) ? linears->load(name) : original->load(name));
  for (const std::string& name : linears->names())
    if (!original->contains(name)) checkpoint.add(name_of(name), linears->load(name));
  if (edit) edit(checkpoint);
  return checkpoint;
}

using testing::error_message;

// transformers' name of a Wan name, the scale following its weight.
std::string transformers_name(const std::string& name) {
  const std::string suffix = "_scale";
  if (name.ends_with(".weight" + suffix))
    return t5_transformers_name(name.substr(0, name.size() - suffix.size())) + suffix;
  return t5_transformers_name(name);
}

void expect_matches_fake_quantized_reference(QuantFormat format) {
  const io::MemoryCheckpoint checkpoint = quantized_t5(format);
  const T5LinearOptions linears{scheme_of(format), false};
  const T5Encoder f32(checkpoint, Precision{DType::f32, DType::f32}, test_device(), linears);
  const T5Encoder bf16(checkpoint, Precision{DType::bf16, DType::f32}, test_device(), linears);
  const size_t cases = testing::t5_encoder_cases()["cases"].size();
  ASSERT_EQ(cases, 4u);
  for (size_t i = 0; i < cases; ++i) {
    const Tensor fake =
        load_fixture("wan_quant/t5_outputs.safetensors", concat(quant_format_name(format), "_out_", i));
    const Tensor plain = load_fixture("t5/encoder_outputs.safetensors", concat("out_", i));
    const Tensor out = f32.encode(case_tokens(i));
    const double quantization_effect = relative_error(fake, plain);
    std::printf("[ t5 %s ] case %zu: vs fake-quantized reference %.2e (quantization's effect %.2e)\n",
                quant_format_name(format), i, relative_error(out, fake), quantization_effect);
    EXPECT_GE(cosine_similarity(out, fake), 0.999) << "case " << i;
    EXPECT_LE(relative_error(out, fake), testing::kQuantizedShareOfEffect * quantization_effect)
        << "case " << i << ": not the reference's quantization";
    const Tensor out_bf16 = bf16.encode(case_tokens(i));
    EXPECT_GE(cosine_similarity(out_bf16, fake), 0.999) << "case " << i;
    EXPECT_GE(cosine_similarity(out_bf16, plain), 0.99) << "case " << i;
  }
}

TEST(T5Quant, Int8MatchesTheFakeQuantizedReference) {
  expect_matches_fake_quantized_reference(QuantFormat::int8);
}

TEST(T5Quant, Fp8MatchesTheFakeQuantizedReference) {
  expect_matches_fake_quantized_reference(QuantFormat::fp8_e4m3);
}

// weight_auto_quant on the bf16 umT5 quantizes exactly as the reference did, so it gives the reference
// checkpoint's output to the bit; transformers' names load the same quantized linears.
TEST(T5Quant, AutoQuantAndTransformersNamesGiveTheSameEncoder) {
  const Precision precision{DType::f32, DType::f32};
  for (const QuantFormat format : {QuantFormat::int8, QuantFormat::fp8_e4m3}) {
    const Tensor expected =
        T5Encoder(quantized_t5(format), precision, test_device(), {scheme_of(format), false})
            .encode(case_tokens(3));
    const auto encoder =
        T5Encoder::open(fixture_path(kT5File), precision, test_device(), {scheme_of(format), true});
    EXPECT_EQ(relative_error(encoder->encode(case_tokens(3)), expected), 0.0) << quant_format_name(format);
    const io::MemoryCheckpoint renamed = quantized_t5(format, transformers_name);
    ASSERT_TRUE(renamed.contains("encoder.block.1.layer.1.DenseReluDense.wi_0.weight_scale"));
    const T5Encoder transformers(renamed, precision, test_device(), {scheme_of(format), false});
    EXPECT_EQ(relative_error(transformers.encode(case_tokens(3)), expected), 0.0)
        << quant_format_name(format);
  }
}

TEST(T5Quant, BadCheckpointsAndSchemesAreNamedErrors) {
  const Precision precision{DType::f32, DType::f32};
  const auto load = [&](const io::Checkpoint& checkpoint, const std::string& scheme) {
    return error_message([&] { T5Encoder encoder(checkpoint, precision, test_device(), {scheme, false}); });
  };
  const auto expect_contains = [](const std::string& message, const std::string& text) {
    EXPECT_NE(message.find(text), std::string::npos) << message;
  };
  const io::MemoryCheckpoint int8 = quantized_t5(QuantFormat::int8);
  expect_contains(load(int8, "fp8-sgl"),
                  "tensor 'blocks.0.attn.q.weight' is int8 but t5_quant_scheme 'fp8-sgl'");
  expect_contains(load(int8, ""), "is a quantized umT5; set t5_quantized true and t5_quant_scheme");
  expect_contains(load(quantized_t5(QuantFormat::fp8_e4m3), "int8-vllm"),
                  "is fp8 but t5_quant_scheme 'int8-vllm'");

  const io::MemoryCheckpoint no_scale =
      quantized_t5(QuantFormat::int8, nullptr, [](io::MemoryCheckpoint& checkpoint) {
        io::MemoryCheckpoint copy;
        for (const std::string& name : checkpoint.names())
          if (name != "blocks.1.ffn.fc2.weight_scale") copy.add(name, checkpoint.load(name));
        checkpoint = copy;
      });
  expect_contains(load(no_scale, "int8-vllm"), "tensor 'blocks.1.ffn.fc2.weight_scale' is missing");
  const io::MemoryCheckpoint bad_scale =
      quantized_t5(QuantFormat::int8, nullptr, [](io::MemoryCheckpoint& c) {
        c.add("blocks.0.attn.k.weight_scale", Tensor::host({64, 2}, DType::f32));
      });
  expect_contains(load(bad_scale, "int8-vllm"), "tensor 'blocks.0.attn.k.weight_scale' is f32[64, 2]");

  const auto original = io::open_checkpoint(fixture_path(kT5File));
  expect_contains(load(*original, "int8-vllm"),
                  "set weight_auto_quant to quantize at load, or t5_quantized_ckpt");
  expect_contains(load(*original, "nvfp4"),
                  "t5_quant_scheme 'nvfp4' is not supported on platform '" + test_device().name() + "'");
}

}  // namespace
}  // namespace x2v
