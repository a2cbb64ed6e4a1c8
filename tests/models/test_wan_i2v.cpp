// Wan2.1 I2V conditioning against the official image2video.py (fixtures from
// tools/reference/make_i2v_fixtures.py): the output size for several images and target areas, and `y` (the
// first-frame mask over the official VAE's encoding of the resized image and black frames) for a non-square
// image.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "models/wan/vae.h"
#include "pipeline/wan_i2v.h"
#include "support/test_device.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

using testing::fixture_path;
using testing::load_fixture;
using testing::read_json;
using testing::relative_error;
using testing::test_device;

TEST(WanI2v, OutputSizeFollowsTheImageAsTheReference) {
  const nlohmann::json cases = read_json("i2v/cases.json");
  for (const nlohmann::json& entry : cases["shapes"]) {
    WanVideoShape target;
    target.height = entry["target"][0].get<int64_t>();
    target.width = entry["target"][1].get<int64_t>();
    const WanVideoShape shape =
        wan_i2v_video_shape(target, entry["image"][0].get<int64_t>(), entry["image"][1].get<int64_t>());
    EXPECT_EQ(shape.height, entry["output"][0].get<int64_t>()) << entry.dump();
    EXPECT_EQ(shape.width, entry["output"][1].get<int64_t>()) << entry.dump();
    EXPECT_EQ(shape.frames, target.frames);
  }
}

TEST(WanI2v, ConditioningMatchesTheOfficialRecipe) {
  const nlohmann::json cases = read_json("i2v/cases.json");
  const auto vae = WanVae::open(fixture_path("wan_vae/Wan2.1_VAE.pth"), WanVaeOptions{}, test_device());
  const Tensor image = load_fixture("i2v/y.safetensors", "image");
  WanVideoShape target;
  target.height = cases["y"]["target"][0].get<int64_t>();
  target.width = cases["y"]["target"][1].get<int64_t>();
  target.frames = cases["y"]["frames"].get<int64_t>();
  const WanVideoShape shape = wan_i2v_video_shape(target, image.size(1), image.size(2));
  const Tensor y = wan_i2v_y(*vae, image, shape);
  const Tensor expected = load_fixture("i2v/y.safetensors", "y");
  ASSERT_EQ(y.shape(), expected.shape());
  EXPECT_LE(relative_error(y, expected), testing::kModelF32Tolerance);
}

TEST(WanI2v, AnImageTooElongatedForTheAreaIsNamed) {
  WanVideoShape target;
  target.height = 48;
  target.width = 64;
  testing::expect_error_mentioning([&] { wan_i2v_video_shape(target, 10, 1000); }, "less elongated image");
}

}  // namespace
}  // namespace x2v
