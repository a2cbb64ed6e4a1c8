// LightVAE (use_lightvae) against LightX2V's own pruned VAE class (fixture from
// tools/reference/make_lightvae_fixtures.py: WanVAE_ with pruning_rate 0.75 of base width 96, decoded as
// LightX2V's WanVAE.decode does). The weights are regenerated here from the fixture's recipe with x2v's
// torch-identical generator; x2v reads them as the Wan2.1 VAE at base width 24.
#include <gtest/gtest.h>

#include <algorithm>

#include "fixtures.h"
#include "io/memory_checkpoint.h"
#include "models/wan/vae.h"
#include "models/wan/vae_weights.h"
#include "support/test_device.h"

namespace x2v {
namespace {

using testing::load_fixture;
using testing::read_json;
using testing::relative_error;
using testing::test_device;

TEST(LightVae, DecodesAsLightX2VsPrunedVae) {
  io::MemoryCheckpoint checkpoint("lightvaew2_1 (fixture recipe)");
  std::vector<std::pair<std::string, Shape>> recipe_shapes;
  for (const auto& [name, tensor] : testing::recipe_tensors(read_json("lightvae/weights.json"))) {
    checkpoint.add(name, tensor);
    recipe_shapes.emplace_back(name, tensor.shape());
  }
  // LightX2V's pruned model has exactly the tensors of x2v's table at base width 24.
  std::vector<std::pair<std::string, Shape>> expected_shapes = wan_vae_tensor_shapes(24, 16);
  std::sort(expected_shapes.begin(), expected_shapes.end());
  std::sort(recipe_shapes.begin(), recipe_shapes.end());
  EXPECT_EQ(recipe_shapes, expected_shapes);

  const WanVae vae(checkpoint, WanVaeOptions{}, test_device());
  const Tensor latents = load_fixture("lightvae/decode.safetensors", "latents");
  const Tensor expected = load_fixture("lightvae/decode.safetensors", "video");
  const Tensor video = vae.decode(latents);
  ASSERT_EQ(video.shape(), expected.shape());
  EXPECT_LE(relative_error(video, expected), testing::kModelF32Tolerance);
}

}  // namespace
}  // namespace x2v
