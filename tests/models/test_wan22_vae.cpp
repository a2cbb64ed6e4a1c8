// The Wan2.2 VAE (TI2V-5B's: 2x2 patches, 48 latent channels, 4x16x16) against the official Wan2.2 code
// (fixtures from tools/reference/make_vae22_fixtures.py: encoder and decoder base width 8, the real z_dim):
// the weights regenerated from the fixture's recipe and written as Wan2.2_VAE.pth, decoded and encoded
// through the official Wan2_2_VAE wrapper at 1, 5 and 9 frames (causal prefixes of one run).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "fixtures.h"
#include "io/pth_writer.h"
#include "io/safetensors.h"
#include "models/wan/vae.h"
#include "models/wan/vae_weights.h"
#include "support/test_device.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

namespace fs = std::filesystem;
using testing::load_fixture;
using testing::read_json;
using testing::relative_error;
using testing::test_device;

struct Wan22VaeFolder {
  fs::path path = fs::temp_directory_path() / ("x2v_vae22_" + std::to_string(::getpid()));
  Wan22VaeFolder() {
    fs::create_directories(path);
    io::write_pth((path / "Wan2.2_VAE.pth").string(),
                  testing::recipe_tensors(read_json("wan22_vae/weights.json")));
  }
  ~Wan22VaeFolder() { fs::remove_all(path); }
};

Tensor fixture(const std::string& name) {
  return load_fixture("wan22_vae/vae22.safetensors", name);
}

TEST(Wan22Vae, ReadsItsShapeFromTheFile) {
  const Wan22VaeFolder folder;
  const auto vae = WanVae::open(folder.path.string(), WanVaeOptions{}, test_device());
  EXPECT_TRUE(vae->config().wan22());
  EXPECT_EQ(vae->config().dim, 8);
  EXPECT_EQ(vae->config().decoder_dim, 8);
  EXPECT_EQ(vae->z_dim(), 48);
  EXPECT_EQ(vae->config().spatial_factor(), 16);
}

TEST(Wan22Vae, TensorTableIsTheOfficialModels) {
  std::vector<std::pair<std::string, Shape>> official, table = wan22_vae_tensor_shapes(8, 8, 48);
  for (const auto& [name, tensor] : testing::recipe_tensors(read_json("wan22_vae/weights.json")))
    official.emplace_back(name, tensor.shape());
  std::sort(official.begin(), official.end());
  std::sort(table.begin(), table.end());
  EXPECT_EQ(table, official);
}

TEST(Wan22Vae, DecodeMatchesOfficialForOneToThreeLatentFrames) {
  const Wan22VaeFolder folder;
  const auto vae = WanVae::open(folder.path.string(), WanVaeOptions{}, test_device());
  const Tensor latents = fixture("latents"), expected = fixture("video");
  for (int64_t frames = 1; frames <= latents.size(1); ++frames) {
    SCOPED_TRACE(concat(frames, " latent frames"));
    const Tensor video = vae->decode(latents.slice(1, 0, frames).to_host(DType::f32));
    const int64_t video_frames = 1 + 4 * (frames - 1);
    EXPECT_LE(relative_error(video, expected.slice(1, 0, video_frames).to_host(DType::f32)),
              testing::kModelF32Tolerance);
  }
}

// Patch parallel's halo path on one rank (test_wan_vae.cpp says why): the Wan2.2 decoder's DupUp3D shortcuts
// and 2x2 output patches go through it too.
TEST(Wan22Vae, PatchParallelOnOneRankMatchesTheOfficialDecode) {
  const Wan22VaeFolder folder;
  const std::unique_ptr<Communicator> group = make_local_communicator();
  WanVaeOptions options;
  options.patch_group = group.get();
  const auto vae = WanVae::open(folder.path.string(), options, test_device());
  EXPECT_LE(relative_error(vae->decode(fixture("latents")), fixture("video")), testing::kModelF32Tolerance);
}

TEST(Wan22Vae, Bf16DecodeStaysCloseAndTilingIsRefused) {
  const Wan22VaeFolder folder;
  WanVaeOptions bf16;
  bf16.dtype = DType::bf16;
  const auto vae = WanVae::open(folder.path.string(), bf16, test_device());
  const Tensor latents = fixture("latents"), expected = fixture("video");
  EXPECT_GE(testing::cosine_similarity(vae->decode(latents), expected), testing::kVaeBf16Cosine);
  WanVaeOptions tiled;
  tiled.tiling = true;
  testing::expect_error_mentioning([&] { WanVae::open(folder.path.string(), tiled, test_device()); },
                                   "use_tiling_vae tiles the Wan2.1 VAE's decode");
}

TEST(Wan22Vae, DiffusersNamesGiveTheSameVideo) {
  // The fixture's weights under diffusers' AutoencoderKLWan names (the script checked them in diffusers);
  // x2v's own naming reads them back.
  const nlohmann::json names = read_json("wan22_vae/diffusers_names.json");
  std::vector<std::pair<std::string, Tensor>> renamed;
  for (const auto& [name, tensor] : testing::recipe_tensors(read_json("wan22_vae/weights.json")))
    renamed.emplace_back(names.at(name).get<std::string>(), tensor);
  const fs::path folder = fs::temp_directory_path() / ("x2v_vae22_diffusers_" + std::to_string(::getpid()));
  fs::create_directories(folder / "vae");
  io::write_safetensors((folder / "vae" / "diffusion_pytorch_model.safetensors").string(), renamed);
  const auto vae = WanVae::open(folder.string(), WanVaeOptions{}, test_device());
  EXPECT_TRUE(vae->config().wan22());
  EXPECT_LE(relative_error(vae->decode(fixture("latents")), fixture("video")), testing::kModelF32Tolerance);
  EXPECT_LE(relative_error(vae->encode(fixture("encode_video")), fixture("encode_latents")),
            testing::kModelF32Tolerance);
  fs::remove_all(folder);
}

TEST(Wan22Vae, EncodeMatchesOfficialForOneFiveAndNineFrames) {
  const Wan22VaeFolder folder;
  const auto vae = WanVae::open(folder.path.string(), WanVaeOptions{}, test_device());
  const Tensor video = fixture("encode_video"), expected = fixture("encode_latents");
  for (int64_t frames : {1, 5, 9}) {
    SCOPED_TRACE(concat(frames, " frames"));
    const Tensor latents = vae->encode(video.slice(1, 0, frames).to_host(DType::f32));
    const int64_t latent_frames = 1 + (frames - 1) / 4;
    EXPECT_LE(relative_error(latents, expected.slice(1, 0, latent_frames).to_host(DType::f32)),
              testing::kModelF32Tolerance);
  }
  // Sizes are multiples of 16 here (2x2 patches of the 8x downsampling).
  testing::expect_error_mentioning([&] { vae->encode(video.slice(2, 0, 24).to_host(DType::f32)); },
                                   "multiples of 16");
}

}  // namespace
}  // namespace x2v
