// Wan's 3-D rotary tables: the published frame/height/width split and the angles per axis, applied by the
// device's rope kernel.
#include <gtest/gtest.h>

#include <cmath>

#include "models/wan/rope_tables.h"
#include "platform/platform.h"
#include "support/test_device.h"

namespace x2v {
namespace {

TEST(WanRope, SplitMatchesThePublishedOne) {
  // head_dim 128: 44 frame dims (22 pairs), 42 height, 42 width.
  const RopeSplit split = wan_rope_split(128);
  EXPECT_EQ(split.frame_dims, 44);
  EXPECT_EQ(split.height_dims, 42);
  EXPECT_EQ(split.width_dims, 42);
}

TEST(WanRope, RotatesPairsByTheWanAngles) {
  // One token at grid position (f=1, h=2, w=3), d = 12: frame pairs 0,1 (4 dims), height pairs 2,3, width
  // 4,5.
  Device& device = testing::test_device();
  const RopeGrid grid{2, 3, 4};
  const int64_t token = 1 * 12 + 2 * 4 + 3;
  std::vector<float> values(grid.tokens() * 12, 0.0f);
  for (int pair = 0; pair < 6; ++pair) values[token * 12 + 2 * pair] = 1.0f;  // (1, 0) in every pair
  const Tensor x = testing::on_device(Tensor::host_from(values, {grid.tokens(), 1, 12}), device);
  Tensor out = empty({grid.tokens(), 1, 12}, DType::f32, device);
  device.kernels().rope.create("")->apply(x, wan_rope_tables(grid, 12, 10000.0, device), out);
  const std::vector<float> result = testing::on_host(out).to_floats();
  const double angles[6] = {1.0, 1.0 * std::pow(10000.0, -2.0 / 4), 2.0, 2.0 * std::pow(10000.0, -2.0 / 4),
                            3.0, 3.0 * std::pow(10000.0, -2.0 / 4)};
  for (int pair = 0; pair < 6; ++pair) {
    EXPECT_NEAR(result[token * 12 + 2 * pair], std::cos(angles[pair]), 1e-6) << pair;
    EXPECT_NEAR(result[token * 12 + 2 * pair + 1], std::sin(angles[pair]), 1e-6) << pair;
  }
}

TEST(WanRope, HeadDimThatDoesNotSplitIsAnError) {
  EXPECT_THROW(wan_rope_tables(RopeGrid{1, 1, 1}, 9, 10000.0, testing::test_device()), Error);
}

}  // namespace
}  // namespace x2v
