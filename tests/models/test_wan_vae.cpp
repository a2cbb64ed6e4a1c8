// The Wan2.1 VAE against the official WanVAE wrapper and diffusers' AutoencoderKLWan (fixtures from
// tools/reference/make_vae_fixtures.py, a dim-3 model): decode of 1..4 latent frames and encode of 1, 5,
// 9, 13 frames within 1e-4 in f32, both namings, the tiled decode against diffusers' tiled_decode, bf16
// within a looser bound, streaming chunk sizes and flat peak memory, and the user errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "fixtures.h"
#include "io/memory_checkpoint.h"
#include "models/wan/vae.h"
#include "platform/ops.h"
#include "platform/platform.h"
#include "support/test_device.h"

namespace x2v {
namespace {

using testing::test_device;

using testing::cosine_similarity;
using testing::fixture_path;
using testing::load_fixture;
using testing::relative_error;

constexpr double kF32Tolerance = testing::kModelF32Tolerance;  // outputs are O(1) (measured 2e-6)
constexpr double kBf16Tolerance = testing::kVaeBf16Tolerance;
constexpr double kBf16Cosine = testing::kVaeBf16Cosine;

std::unique_ptr<WanVae> open_vae(const std::string& relative, WanVaeOptions options = {}) {
  return WanVae::open(fixture_path(relative), options, test_device());
}

Tensor frames_prefix(const Tensor& video, int64_t frames) {
  return video.slice(1, 0, frames).to_host(DType::f32);
}

TEST(WanVae, ReadsDimAndNamingFromTheWeights) {
  const auto original = io::open_checkpoint(fixture_path("wan_vae/Wan2.1_VAE.pth"));
  const WanVaeCheckpoint weights(*original);
  EXPECT_EQ(weights.config().dim, 3);
  EXPECT_EQ(weights.config().z_dim, 16);
  EXPECT_EQ(weights.naming(), WanWeightNaming::original);
  const auto diffusers = io::open_checkpoint(fixture_path("wan_vae/diffusers/vae"));
  EXPECT_EQ(WanVaeCheckpoint(*diffusers).naming(), WanWeightNaming::diffusers);
}

TEST(WanVae, TensorTableMatchesBothFixtureFiles) {
  // Every tensor of the table, under both namings, exists with its shape, and nothing else does.
  const auto shapes = wan_vae_tensor_shapes(3, 16);
  for (const bool diffusers : {false, true}) {
    const auto checkpoint =
        io::open_checkpoint(fixture_path(diffusers ? "wan_vae/diffusers/vae" : "wan_vae/Wan2.1_VAE.pth"));
    std::set<std::string> expected;
    for (const auto& [name, shape] : shapes) {
      const std::string file_name = diffusers ? wan_vae_diffusers_name(name) : name;
      expected.insert(file_name);
      ASSERT_TRUE(checkpoint->contains(file_name)) << file_name;
      EXPECT_EQ(checkpoint->info(file_name).shape, shape) << file_name;
    }
    EXPECT_EQ(expected.size(), checkpoint->names().size());
  }
}

TEST(WanVae, TensorTableAtFullWidthHasTheSpecShapes) {
  std::map<std::string, Shape> table;
  for (const auto& [name, shape] : wan_vae_tensor_shapes(96, 16)) table[name] = shape;
  EXPECT_EQ(table.at("encoder.downsamples.3.residual.2.weight"), (Shape{192, 96, 3, 3, 3}));
  EXPECT_EQ(table.at("encoder.downsamples.3.shortcut.weight"), (Shape{192, 96, 1, 1, 1}));
  EXPECT_EQ(table.at("encoder.downsamples.2.resample.1.weight"), (Shape{96, 96, 3, 3}));
  EXPECT_EQ(table.at("encoder.downsamples.5.time_conv.weight"), (Shape{192, 192, 3, 1, 1}));
  EXPECT_EQ(table.at("encoder.middle.1.to_qkv.weight"), (Shape{1152, 384, 1, 1}));
  EXPECT_EQ(table.at("decoder.upsamples.3.time_conv.weight"), (Shape{768, 384, 3, 1, 1}));
  EXPECT_EQ(table.at("decoder.head.2.weight"), (Shape{3, 96, 3, 3, 3}));
  EXPECT_EQ(table.at("conv1.weight"), (Shape{32, 32, 1, 1, 1}));
  EXPECT_EQ(table.at("conv2.weight"), (Shape{16, 16, 1, 1, 1}));
  EXPECT_EQ(wan_vae_diffusers_name("decoder.upsamples.11.resample.1.weight"),
            "decoder.up_blocks.2.upsamplers.0.resample.1.weight");
  EXPECT_EQ(wan_vae_diffusers_name("decoder.upsamples.12.residual.6.bias"),
            "decoder.up_blocks.3.resnets.0.conv2.bias");
}

TEST(WanVae, DecodeMatchesOfficialForOneToFourLatentFrames) {
  const auto vae = open_vae("wan_vae/Wan2.1_VAE.pth");
  const Tensor latents = load_fixture("wan_vae/decode.safetensors", "latents");
  const Tensor expected = load_fixture("wan_vae/decode.safetensors", "video");
  for (int64_t frames = 1; frames <= latents.size(1); ++frames) {
    SCOPED_TRACE(concat(frames, " latent frames"));
    const Tensor video = vae->decode(latents.slice(1, 0, frames).to_host(DType::f32));
    EXPECT_LE(relative_error(video, frames_prefix(expected, 1 + 4 * (frames - 1))), kF32Tolerance);
  }
}

TEST(WanVae, DecodeWithDiffusersNamesMatchesOfficial) {
  const auto vae = open_vae("wan_vae/diffusers");  // a model directory holding vae/
  const Tensor latents = load_fixture("wan_vae/decode.safetensors", "latents");
  EXPECT_LE(relative_error(vae->decode(latents), load_fixture("wan_vae/decode.safetensors", "video")),
            kF32Tolerance);
}

TEST(WanVae, DecodeStreamsOneChunkPerLatentFrame) {
  const auto vae = open_vae("wan_vae");  // a model directory holding Wan2.1_VAE.pth
  const Tensor latents = load_fixture("wan_vae/decode.safetensors", "latents");
  const Tensor expected = load_fixture("wan_vae/decode.safetensors", "video");
  std::vector<int64_t> chunk_frames;
  int64_t offset = 0;
  vae->decode(latents, [&](const Tensor& chunk) {
    EXPECT_EQ(chunk.dtype(), DType::f32);
    chunk_frames.push_back(chunk.size(1));
    EXPECT_LE(relative_error(chunk, expected.slice(1, offset, offset + chunk.size(1)).to_host(DType::f32)),
              kF32Tolerance);
    offset += chunk.size(1);
  });
  EXPECT_EQ(chunk_frames, (std::vector<int64_t>{1, 4, 4, 4}));
}

TEST(WanVae, EncodeMatchesOfficialForOneToThirteenFrames) {
  const Tensor video = load_fixture("wan_vae/encode.safetensors", "video");
  const Tensor expected = load_fixture("wan_vae/encode.safetensors", "latents");
  for (const char* model : {"wan_vae/Wan2.1_VAE.pth", "wan_vae/diffusers/vae"}) {
    const auto vae = open_vae(model);
    for (int64_t frames : {1, 5, 9, 13}) {
      SCOPED_TRACE(concat(model, ", ", frames, " frames"));
      const Tensor latents = vae->encode(video.slice(1, 0, frames).to_host(DType::f32));
      EXPECT_LE(relative_error(latents, frames_prefix(expected, 1 + (frames - 1) / 4)), kF32Tolerance);
    }
  }
}

TEST(WanVae, TiledDecodeMatchesDiffusersTiledDecode) {
  WanVaeOptions options;
  options.tiling = true;
  options.tile_sample_size = 32;  // the fixture's tiles: 4x4 latent every 3 (2 x 3 tiles)
  options.tile_sample_stride = 24;
  const auto vae = open_vae("wan_vae/Wan2.1_VAE.pth", options);
  const Tensor latents = load_fixture("wan_vae/tiled_decode.safetensors", "latents");
  const Tensor expected = load_fixture("wan_vae/tiled_decode.safetensors", "video");
  std::vector<int64_t> chunk_frames;
  vae->decode(latents, [&](const Tensor& chunk) { chunk_frames.push_back(chunk.size(1)); });
  EXPECT_EQ(chunk_frames, (std::vector<int64_t>{1, 4}));  // tiles stream too
  EXPECT_LE(relative_error(vae->decode(latents), expected), kF32Tolerance);
}

// Patch parallel's halo path (convolutions without padding, borders from the split) on a one-rank group: the
// borders are all the image's edge, so this is the official decode; mpirun runs the multi-rank grids
// (tests/parallel).
TEST(WanVae, PatchParallelOnOneRankMatchesTheOfficialDecode) {
  const std::unique_ptr<Communicator> group = make_local_communicator();
  WanVaeOptions options;
  options.patch_group = group.get();
  const auto vae = open_vae("wan_vae/Wan2.1_VAE.pth", options);
  const Tensor latents = load_fixture("wan_vae/decode.safetensors", "latents");
  EXPECT_LE(relative_error(vae->decode(latents), load_fixture("wan_vae/decode.safetensors", "video")),
            kF32Tolerance);
  options.tiling = true;
  EXPECT_THROW(open_vae("wan_vae/Wan2.1_VAE.pth", options), Error);  // two ways to split one decode
}

TEST(WanVae, Bf16IsCloseToTheF32Reference) {
  WanVaeOptions options;
  options.dtype = DType::bf16;
  const auto vae = open_vae("wan_vae/Wan2.1_VAE.pth", options);
  const Tensor decoded = vae->decode(load_fixture("wan_vae/decode.safetensors", "latents"));
  const Tensor expected_video = load_fixture("wan_vae/decode.safetensors", "video");
  EXPECT_LE(relative_error(decoded, expected_video), kBf16Tolerance);
  EXPECT_GE(cosine_similarity(decoded, expected_video), kBf16Cosine);
  const Tensor encoded = vae->encode(load_fixture("wan_vae/encode.safetensors", "video"));
  const Tensor expected_latents = load_fixture("wan_vae/encode.safetensors", "latents");
  EXPECT_LE(relative_error(encoded, expected_latents), kBf16Tolerance);
  EXPECT_GE(cosine_similarity(encoded, expected_latents), kBf16Cosine);
}

TEST(WanVae, DecodePeakMemoryDoesNotGrowWithFrames) {
  const auto vae = open_vae("wan_vae/Wan2.1_VAE.pth");
  const Tensor latents = load_fixture("wan_vae/decode.safetensors", "latents");
  Allocator& allocator = test_device().allocator();
  auto peak_growth = [&](int64_t frames) {
    const Tensor input = latents.slice(1, 0, frames).to_host(DType::f32);
    allocator.reset_peak();
    const size_t before = allocator.stats().current_bytes;
    vae->decode(input, [](const Tensor&) {});
    return allocator.stats().peak_bytes - before;
  };
  peak_growth(4);  // warm-up: kernels' first-call workspaces
  const size_t two = peak_growth(2), four = peak_growth(4);
  EXPECT_GT(two, 0u);
  EXPECT_LE(four, two) << "decode memory grows with the frame count";
}

TEST(WanVae, AttentionKernelHandlesTheFullWidthHeadDim) {
  // The middle attention of the real model: one head of dim 384 over each frame's positions, q/k/v as
  // channel blocks of one [frames, positions, 3C] projection.
  const int64_t channels = 384, frames = 2, positions = 150;
  std::vector<float> values(frames * positions * 3 * channels);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(std::sin(0.37 * i) * 2.0);
  Device& device = test_device();
  const Tensor qkv = testing::on_device(Tensor::host_from(values, {frames, positions, 3 * channels}), device);
  auto part = [&](int64_t index) {
    return qkv.slice(2, index * channels, (index + 1) * channels).unsqueeze(1);
  };
  Tensor actual = empty({frames, 1, positions, channels}, DType::f32, device);
  Tensor expected = empty({frames, 1, positions, channels}, DType::f32, device);
  for (auto [name, out] : {std::pair<const char*, Tensor*>{"", &actual}, {"torch", &expected}}) {
    auto kernel = test_device().kernels().attention.create(name);
    kernel->load(AttentionOptions{});
    kernel->apply(part(0), part(1), part(2), *out);
  }
  EXPECT_LE(relative_error(testing::on_host(actual), testing::on_host(expected)), 1e-5);
}

// --- user errors ---

std::unique_ptr<io::MemoryCheckpoint> fixture_copy() {
  auto copy = std::make_unique<io::MemoryCheckpoint>("edited Wan2.1_VAE.pth");
  const auto source = io::open_checkpoint(fixture_path("wan_vae/Wan2.1_VAE.pth"));
  for (const std::string& name : source->names()) copy->add(name, source->load(name).to_host(DType::f32));
  return copy;
}

void expect_error_naming(const std::function<void()>& action, const std::vector<std::string>& words) {
  try {
    action();
    ADD_FAILURE() << "no error";
  } catch (const InternalError& error) {
    ADD_FAILURE() << "internal error for a user mistake: " << error.what();
  } catch (const Error& error) {
    for (const std::string& word : words)
      EXPECT_NE(std::string(error.what()).find(word), std::string::npos) << error.what() << " lacks " << word;
  }
}

TEST(WanVae, MissingOrMisshapedTensorIsAnErrorNamingIt) {
  io::MemoryCheckpoint missing("no middle attention");
  const auto full = fixture_copy();
  for (const std::string& name : full->names())
    if (name != "decoder.middle.1.proj.weight") missing.add(name, full->load(name));
  expect_error_naming([&] { WanVae(missing, {}, test_device()); }, {"decoder.middle.1.proj.weight"});
  auto misshaped = fixture_copy();
  misshaped->add("encoder.downsamples.5.time_conv.weight", Tensor::host({5, 6, 3, 1, 1}, DType::f32));
  expect_error_naming(
      [&] { WanVae(*misshaped, {}, test_device()); },
      {"encoder.downsamples.5.time_conv.weight", "[5, 6, 3, 1, 1]", "expected [6, 6, 3, 1, 1]"});
}

TEST(WanVae, BadInputsAreErrors) {
  const auto vae = open_vae("wan_vae/Wan2.1_VAE.pth");
  expect_error_naming([&] { vae->encode(Tensor::host({3, 6, 16, 16}, DType::f32)); }, {"6 frames", "4n+1"});
  expect_error_naming([&] { vae->encode(Tensor::host({3, 5, 20, 16}, DType::f32)); }, {"multiples of 8"});
  expect_error_naming([&] { vae->encode(Tensor::host({4, 5, 16, 16}, DType::f32)); }, {"[3, frames"});
  expect_error_naming([&] { vae->decode(Tensor::host({15, 2, 4, 4}, DType::f32)); }, {"[16, frames"});
  WanVaeOptions options;
  options.tiling = true;
  options.tile_sample_stride = 100;
  expect_error_naming([&] { open_vae("wan_vae/Wan2.1_VAE.pth", options); }, {"multiples of 8"});
  expect_error_naming([&] { open_vae("wan_vae/no_such_file.pth"); }, {"no_such_file.pth", "does not exist"});
  expect_error_naming([&] { open_vae("wan_dit/t2v/model_original/diffusion_pytorch_model.safetensors"); },
                      {"not a Wan2.1 VAE"});
  expect_error_naming([&] { open_vae("io"); }, {"Wan2.1_VAE.pth"});
}

}  // namespace
}  // namespace x2v
