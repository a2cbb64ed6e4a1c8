// The umT5 encoder against the official Wan T5Encoder (fixtures from tools/reference/make_t5_fixtures.py):
// f32 within 1e-4 relative with both the Wan names (.pth) and transformers' UMT5 names (text_encoder/
// safetensors), bf16 within a looser bound, the position buckets, and the load errors naming the tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "io/memory_checkpoint.h"
#include "models/wan/t5_encoder.h"
#include "platform/platform.h"
#include "support/test_device.h"
#include "support/test_helpers.h"
#include "t5_cases.h"

namespace x2v {
namespace {

using testing::test_device;

using testing::cosine_similarity;
using testing::fixture_path;
using testing::load_fixture;
using testing::relative_error;

constexpr double kF32Tolerance = testing::kModelF32Tolerance;
// x2v's bf16 path keeps f32 attention and norms, so it must do at least as well as the official bf16 run.
constexpr double kBf16Tolerance = testing::kT5Bf16Tolerance;
constexpr double kBf16Cosine = testing::kT5Bf16Cosine;
constexpr int64_t kTextLen = 512;

const nlohmann::json& encoder_cases() {
  return testing::t5_encoder_cases();
}

TokenizedText case_tokens(const nlohmann::json& entry) {
  return testing::t5_case_tokens(entry, kTextLen);
}

using testing::error_message;

void expect_matches_reference(const T5Encoder& encoder) {
  const nlohmann::json& cases = encoder_cases()["cases"];
  ASSERT_EQ(cases.size(), 4u);
  double worst = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Tensor out = encoder.encode(case_tokens(cases[i]));
    const Tensor expected = load_fixture("t5/encoder_outputs.safetensors", concat("out_", i));
    const double error = relative_error(out, expected);
    EXPECT_LE(error, kF32Tolerance) << "case " << i << ", " << cases[i]["length"] << " tokens";
    worst = std::max(worst, error);
  }
  std::printf("[ t5 f32 ] worst relative error over %zu cases: %.2e\n", cases.size(), worst);
}

TEST(T5Encoder, InfersTheArchitectureFromTheWeights) {
  const auto encoder =
      T5Encoder::open(fixture_path("t5/wan"), Precision{DType::f32, DType::f32}, test_device());
  const nlohmann::json& expected = encoder_cases()["config"];
  const T5Config& config = encoder->config();
  EXPECT_EQ(config.vocab_size, expected["vocab_size"].get<int64_t>());
  EXPECT_EQ(config.dim, expected["dim"].get<int64_t>());
  EXPECT_EQ(config.dim_attn, expected["dim_attn"].get<int64_t>());
  EXPECT_EQ(config.dim_ffn, expected["dim_ffn"].get<int64_t>());
  EXPECT_EQ(config.num_heads, expected["num_heads"].get<int64_t>());
  EXPECT_EQ(config.num_layers, expected["num_layers"].get<int64_t>());
  EXPECT_EQ(config.num_buckets, expected["num_buckets"].get<int64_t>());
  EXPECT_EQ(config.max_distance, expected["max_distance"].get<int64_t>());
}

TEST(T5Encoder, WanNamesMatchReferenceInF32) {
  expect_matches_reference(*T5Encoder::open(fixture_path("t5/wan/models_t5_umt5-xxl-enc-bf16.pth"),
                                            Precision{DType::f32, DType::f32}, test_device()));
}

TEST(T5Encoder, TransformersNamesMatchReferenceInF32) {
  expect_matches_reference(
      *T5Encoder::open(fixture_path("t5/text_encoder"), Precision{DType::f32, DType::f32}, test_device()));
}

// The model folder: models_t5_umt5-xxl-enc-bf16.pth in the Wan layout, text_encoder/ in the diffusers one.
TEST(T5Encoder, OpensModelFolders) {
  const auto wan = T5Encoder::open(fixture_path("t5/wan"), Precision{DType::f32, DType::f32}, test_device());
  const auto diffusers =
      T5Encoder::open(fixture_path("t5"), Precision{DType::f32, DType::f32}, test_device());
  const TokenizedText tokens = case_tokens(encoder_cases()["cases"][1]);
  EXPECT_LE(relative_error(diffusers->encode(tokens), wan->encode(tokens)), 1e-6);
  std::string message = error_message([] {
    T5Encoder::open(fixture_path("t5/nowhere"), Precision{DType::f32, DType::f32}, test_device());
  });
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
  message = error_message([] {
    T5Encoder::open(fixture_path("random"), Precision{DType::f32, DType::f32}, test_device());
  });
  EXPECT_NE(message.find("models_t5_umt5-xxl-enc-bf16.pth"), std::string::npos) << message;
}

// transformers ties shared.weight and encoder.embed_tokens.weight; an export may keep only the latter.
TEST(T5Encoder, AcceptsEncoderEmbedTokensAsTheEmbedding) {
  const auto source = io::open_checkpoint(fixture_path("t5/text_encoder"));
  io::MemoryCheckpoint renamed;
  for (const std::string& name : source->names())
    renamed.add(name == "shared.weight" ? "encoder.embed_tokens.weight" : name, source->load(name));
  expect_matches_reference(T5Encoder(renamed, Precision{DType::f32, DType::f32}, test_device()));
}

// DTYPE=BF16 (LightX2V's default; the official encoder runs in bf16 too), with the residual stream in bf16
// and, with SENSITIVE_LAYER_DTYPE=FP32, in f32.
TEST(T5Encoder, Bf16IsCloseToTheF32Reference) {
  for (const DType sensitive : {DType::bf16, DType::f32}) {
    const auto encoder =
        T5Encoder::open(fixture_path("t5/wan"), Precision{DType::bf16, sensitive}, test_device());
    const nlohmann::json& cases = encoder_cases()["cases"];
    for (size_t i = 0; i < cases.size(); ++i) {
      const Tensor out = encoder->encode(case_tokens(cases[i]));
      const Tensor expected = load_fixture("t5/encoder_outputs.safetensors", concat("out_", i));
      const Tensor official_bf16 = load_fixture("t5/encoder_outputs.safetensors", concat("out_bf16_", i));
      const double error = relative_error(out, expected), official = relative_error(official_bf16, expected);
      std::printf("[ t5 bf16 ] residual %s, case %zu: error %.2e (official bf16 run %.2e), cosine %.6f\n",
                  dtype_name(sensitive), i, error, official, cosine_similarity(out, expected));
      EXPECT_LE(error, kBf16Tolerance) << "case " << i << " (the official bf16 run is at " << official << ")";
      EXPECT_GE(cosine_similarity(out, expected), kBf16Cosine) << "case " << i;
    }
  }
}

// One loaded encoder serves requests of any length in any order: nothing of one call stays for the next
// (the position bias is an argument of each attention call, not kernel state).
TEST(T5Encoder, ServesRequestsInAnyOrderWithoutReloading) {
  const auto encoder =
      T5Encoder::open(fixture_path("t5/wan"), Precision{DType::f32, DType::f32}, test_device());
  const nlohmann::json& cases = encoder_cases()["cases"];
  const Tensor first = encoder->encode(case_tokens(cases[0]));
  const Tensor longest = encoder->encode(case_tokens(cases[3]));
  EXPECT_TRUE(testing::same_bytes(encoder->encode(case_tokens(cases[0])), first));
  EXPECT_TRUE(testing::same_bytes(encoder->encode(case_tokens(cases[3])), longest));
}

TEST(T5Encoder, RelativePositionBucketsMatchReference) {
  const nlohmann::json& document = encoder_cases();
  const int64_t first = document["bucket_offsets"][0];
  const std::vector<int64_t> expected = document["buckets"];
  const int64_t buckets = document["config"]["num_buckets"],
                max_distance = document["config"]["max_distance"];
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(t5_relative_position_bucket(first + static_cast<int64_t>(i), buckets, max_distance),
              expected[i])
        << "offset " << first + static_cast<int64_t>(i);
}

// A copy of the fixture checkpoint with one tensor dropped or replaced.
io::MemoryCheckpoint edited_checkpoint(const std::string& path, const std::string& name,
                                       const Tensor& replacement) {
  const auto source = io::open_checkpoint(fixture_path(path));
  io::MemoryCheckpoint result;
  for (const std::string& each : source->names()) {
    if (each != name) {
      result.add(each, source->load(each));
    } else if (replacement.defined()) {
      result.add(each, replacement);
    }
  }
  return result;
}

TEST(T5Encoder, MissingOrMisshapedTensorsAreNamed) {
  const Precision precision{DType::f32, DType::f32};
  const struct {
    std::string path, name;
  } tensors[] = {{"t5/wan/models_t5_umt5-xxl-enc-bf16.pth", "blocks.1.ffn.fc2.weight"},
                 {"t5/wan/models_t5_umt5-xxl-enc-bf16.pth", "blocks.1.pos_embedding.embedding.weight"},
                 {"t5/text_encoder", "encoder.block.1.layer.1.DenseReluDense.wi_0.weight"},
                 {"t5/text_encoder", "encoder.final_layer_norm.weight"}};
  for (const auto& tensor : tensors) {
    const io::MemoryCheckpoint missing = edited_checkpoint(tensor.path, tensor.name, Tensor());
    std::string message = error_message([&] { T5Encoder encoder(missing, precision, test_device()); });
    EXPECT_NE(message.find("'" + tensor.name + "'"), std::string::npos) << message;
    const io::MemoryCheckpoint misshaped =
        edited_checkpoint(tensor.path, tensor.name, Tensor::host({3, 5}, DType::bf16));
    message = error_message([&] { T5Encoder encoder(misshaped, precision, test_device()); });
    EXPECT_NE(message.find("'" + tensor.name + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("[3, 5]"), std::string::npos) << message;
  }
  const std::string message =
      error_message([&] { T5Encoder encoder(io::MemoryCheckpoint("empty"), precision, test_device()); });
  EXPECT_NE(message.find("not a umT5 encoder"), std::string::npos) << message;
}

TEST(T5Encoder, RejectsTokensItCannotEncode) {
  const auto encoder =
      T5Encoder::open(fixture_path("t5/wan"), Precision{DType::f32, DType::f32}, test_device());
  TokenizedText tokens = case_tokens(encoder_cases()["cases"][0]);
  tokens.ids[2] = static_cast<int32_t>(encoder->config().vocab_size);
  EXPECT_NE(error_message([&] { encoder->encode(tokens); }).find("outside the vocabulary"),
            std::string::npos);
  tokens.length = 0;
  EXPECT_THROW(encoder->encode(tokens), Error);
  tokens.length = kTextLen + 1;
  EXPECT_THROW(encoder->encode(tokens), Error);
}

// Tokenizer and encoder together on a prompt, as the pipeline runs them.
TEST(T5Encoder, TokenizerAndEncoderTogether) {
  const T5Tokenizer tokenizer(fixture_path("t5/spiece.model"));
  const auto encoder =
      T5Encoder::open(fixture_path("t5/wan"), Precision{DType::f32, DType::f32}, test_device());
  std::ifstream file(fixture_path("t5/tokenizer_cases.json"));
  const nlohmann::json tokenizer_cases = nlohmann::json::parse(file);
  const std::string prompt = tokenizer_cases["cases"][1]["prompt"];  // the encoder's case 1
  const Tensor out = encoder->encode(tokenizer.encode(prompt));
  EXPECT_LE(relative_error(out, load_fixture("t5/encoder_outputs.safetensors", "out_1")), kF32Tolerance);
}

}  // namespace
}  // namespace x2v
