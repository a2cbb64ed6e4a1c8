// Wan's CLIP image encoder against the official wan/modules/clip.py (fixtures from
// tools/reference/make_clip_fixtures.py: a 3-block, 160-wide ViT with ViT-H/14's recipe at 56x56): the
// preprocessing of a non-square image, the hidden states after each block and the I2V features (all blocks
// but the last), in f32 and bf16, from memory and from a .pth named as Wan's file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "fixtures.h"
#include "io/memory_checkpoint.h"
#include "io/pth_writer.h"
#include "io/safetensors.h"
#include "models/wan/clip_encoder.h"
#include "quant/quantize.h"
#include "support/test_device.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

namespace fs = std::filesystem;
using testing::cosine_similarity;
using testing::expect_error_mentioning;
using testing::load_fixture;
using testing::read_json;
using testing::relative_error;
using testing::test_device;

using Tensors = std::vector<std::pair<std::string, Tensor>>;

Tensors clip_weights() {
  return testing::recipe_tensors(read_json("clip/weights.json"));
}

std::unique_ptr<io::MemoryCheckpoint> in_memory(const Tensors& tensors) {
  auto checkpoint = std::make_unique<io::MemoryCheckpoint>("clip fixture");
  for (const auto& [name, tensor] : tensors) checkpoint->add(name, tensor);
  return checkpoint;
}

constexpr Precision kF32{DType::f32, DType::f32};

Tensor fixture(const std::string& name) {
  return load_fixture("clip/clip.safetensors", name);
}

TEST(Clip, ReadsTheShapeFromTheWeights) {
  const ClipVisionEncoder encoder(*in_memory(clip_weights()), kF32, test_device());
  const ClipVisionConfig& c = encoder.config();
  EXPECT_EQ(c.image_size, 56);
  EXPECT_EQ(c.patch_size, 14);
  EXPECT_EQ(c.dim, 160);
  EXPECT_EQ(c.num_heads, 2);
  EXPECT_EQ(c.num_layers, 3);
  EXPECT_EQ(c.mlp_dim, 640);
  EXPECT_EQ(c.tokens(), 17);
}

TEST(Clip, PreprocessesANonSquareImageAsWan) {
  const ClipVisionEncoder encoder(*in_memory(clip_weights()), kF32, test_device());
  const Tensor pixels = encoder.preprocess(fixture("image"));
  // torch interpolates in f32, x2v in double: f32 rounding apart (a wrong tap or offset is 1e-2 and more).
  EXPECT_LE(relative_error(pixels, fixture("pixels")), 1e-5);
}

TEST(Clip, EachBlockAndTheFeaturesMatchTheOfficialTower) {
  const ClipVisionEncoder encoder(*in_memory(clip_weights()), kF32, test_device());
  const Tensor pixels = fixture("pixels");
  EXPECT_LE(relative_error(encoder.forward(pixels, 0), fixture("pre_norm")), testing::kModelF32Tolerance);
  for (int blocks = 1; blocks <= 2; ++blocks)
    EXPECT_LE(relative_error(encoder.forward(pixels, blocks), fixture(concat("block_", blocks))),
              testing::kModelF32Tolerance)
        << blocks << " blocks";
  // The I2V features: the image end to end, all blocks but the last.
  const Tensor features = encoder.encode(fixture("image"));
  EXPECT_EQ(features.shape(), (Shape{17, 160}));
  EXPECT_LE(relative_error(features, fixture("features")), testing::kModelF32Tolerance);
  // The last block is never run: asking for it is refused.
  expect_error_mentioning([&] { encoder.forward(pixels, 3); }, "loads the first 2");
}

TEST(Clip, Bf16FromWansFileName) {
  const fs::path folder = fs::temp_directory_path() / ("x2v_clip_" + std::to_string(::getpid()));
  fs::create_directories(folder);
  io::write_pth((folder / kWanClipFile).string(), clip_weights());
  const auto encoder = ClipVisionEncoder::open(folder.string(), Precision{}, test_device());  // bf16
  EXPECT_GE(cosine_similarity(encoder->encode(fixture("image")), fixture("features")), 0.999);
  fs::remove_all(folder);
}

bool quantized_linear(const std::string& name) {
  for (const char* part : {"attn.to_qkv.weight", "attn.proj.weight", "mlp.0.weight", "mlp.2.weight"})
    if (name.ends_with(part)) return true;
  return false;
}

TEST(Clip, Int8LinearsAsLightX2VQuantizesThem) {
  // Quantized at load (weight_auto_quant) and read from a file quantized as LightX2V's converter does: the
  // same weights, so the same features; both close to the float tower's.
  const Tensors weights = clip_weights();
  const LinearQuantOptions at_load{"int8-vllm", /*auto_quant=*/true};
  const ClipVisionEncoder quantized_at_load(*in_memory(weights), kF32, test_device(), at_load);
  io::MemoryCheckpoint file("models_clip_open-clip-xlm-roberta-large-vit-huge-14-int8.pth");
  int quantized = 0;
  for (const auto& [name, tensor] : weights) {
    if (!quantized_linear(name)) {
      file.add(name, tensor);
      continue;
    }
    const QuantizedWeight q = quantize_weight(tensor, QuantFormat::int8);
    file.add(name, q.weight);
    file.add(name + "_scale", q.scale);
    ++quantized;
  }
  EXPECT_EQ(quantized, 4 * 3);
  const ClipVisionEncoder from_file(file, kF32, test_device(), LinearQuantOptions{"int8-vllm", false});
  const Tensor image = fixture("image");
  const Tensor features = from_file.encode(image);
  EXPECT_LE(relative_error(features, quantized_at_load.encode(image)), 1e-6);
  EXPECT_GE(cosine_similarity(features, fixture("features")), 0.999);
  EXPECT_GT(relative_error(features, fixture("features")), 1e-5);  // it did quantize
  // fp8 (weight-only on CPUs) the same way.
  const ClipVisionEncoder fp8(*in_memory(weights), kF32, test_device(), LinearQuantOptions{"fp8-sgl", true});
  EXPECT_GE(cosine_similarity(fp8.encode(image), fixture("features")), 0.999);
  // A quantized file without clip_quantized is named.
  expect_error_mentioning([&] { ClipVisionEncoder(file, kF32, test_device()); }, "set clip_quantized true");
}

TEST(Clip, DiffusersImageEncoderGivesTheSameFeatures) {
  // The fixture's weights under diffusers' image_encoder/ names (the script checked that mapping with
  // transformers' CLIPVisionModel); x2v's own naming reads them back into Wan's tower.
  std::map<std::string, Tensor> original;
  for (const auto& [name, tensor] : clip_weights()) original[name] = tensor;
  Tensors renamed;
  for (const nlohmann::json& entry : read_json("clip/diffusers_names.json")) {
    Tensor value = original.at(entry["from"].get<std::string>());
    if (!entry["rows"].is_null())
      value = value.slice(0, entry["rows"][0].get<int64_t>(), entry["rows"][1].get<int64_t>());
    renamed.emplace_back(entry["name"].get<std::string>(),
                         value.to_host(DType::f32).reshape(entry["shape"].get<Shape>()));
  }
  const fs::path folder = fs::temp_directory_path() / ("x2v_clip_diffusers_" + std::to_string(::getpid()));
  fs::create_directories(folder / "image_encoder");
  io::write_safetensors((folder / "image_encoder" / "model.safetensors").string(), renamed);
  const auto encoder = ClipVisionEncoder::open(folder.string(), kF32, test_device());  // a model folder
  EXPECT_LE(relative_error(encoder->encode(fixture("image")), fixture("features")),
            testing::kModelF32Tolerance);
  const auto int8 = ClipVisionEncoder::open((folder / "image_encoder").string(), kF32, test_device(),
                                            LinearQuantOptions{"int8-vllm", true});
  EXPECT_GE(cosine_similarity(int8->encode(fixture("image")), fixture("features")), 0.999);
  expect_error_mentioning(
      [&] {
        ClipVisionEncoder::open((folder / "image_encoder").string(), kF32, test_device(),
                                LinearQuantOptions{"int8-vllm", false});
      },
      "needs weight_auto_quant");
  fs::remove_all(folder);
}

TEST(Clip, BadFilesAreNamed) {
  const fs::path folder = fs::temp_directory_path() / ("x2v_clip_bad_" + std::to_string(::getpid()));
  fs::create_directories(folder);
  expect_error_mentioning([&] { ClipVisionEncoder::open(folder.string(), Precision{}, test_device()); },
                          kWanClipFile);
  io::MemoryCheckpoint other("t5.pth");
  other.add("encoder.weight", Tensor::host({4, 4}, DType::f32));
  expect_error_mentioning([&] { ClipVisionEncoder(other, kF32, test_device()); }, "not Wan's CLIP");
  Tensors weights = clip_weights();
  for (auto& [name, tensor] : weights)
    if (name == "visual.transformer.1.mlp.2.weight") tensor = Tensor::host({160, 64}, DType::f32);
  expect_error_mentioning([&] { ClipVisionEncoder(*in_memory(weights), kF32, test_device()); },
                          "visual.transformer.1.mlp.2.weight");
  fs::remove_all(folder);
}

}  // namespace
}  // namespace x2v
