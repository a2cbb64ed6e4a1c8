// Every rope kernel of the cpu platform against the reference, plus the published Wan split.
#include "conformance.h"
#include "platform/platform.h"
#include "platform/reference/reference.h"

namespace x2v {
namespace {

using conformance::random_tensor;
using conformance::relative_error;
using conformance::tolerance;

TEST(Rope, WanSplitMatchesThePublishedOne) {
  // head_dim 128: 44 frame dims (22 pairs), 42 height, 42 width.
  const RopeSplit split = wan_rope_split(128);
  EXPECT_EQ(split.frame_dims, 44);
  EXPECT_EQ(split.height_dims, 42);
  EXPECT_EQ(split.width_dims, 42);
}

TEST(Rope, ReferenceRotatesPairsByTheWanAngles) {
  // One token at grid position (f=1, h=2, w=3), d = 12: frame pairs 0,1 (4 dims), height pairs 2,3, width
  // 4,5.
  RopeGrid grid{2, 3, 4};
  const int64_t token = 1 * 12 + 2 * 4 + 3;
  std::vector<float> values(grid.tokens() * 12, 0.0f);
  for (int pair = 0; pair < 6; ++pair) values[token * 12 + 2 * pair] = 1.0f;  // (1, 0) in every pair
  const Tensor x = Tensor::host_from(values, {grid.tokens(), 1, 12});
  Tensor out = Tensor::host({grid.tokens(), 1, 12}, DType::f32);
  reference::wan_rope(x, grid, RopeOptions{12, 10000.0}, out);
  const std::vector<float> result = out.to_floats();
  const double angles[6] = {1.0, 1.0 * std::pow(10000.0, -2.0 / 4), 2.0, 2.0 * std::pow(10000.0, -2.0 / 4),
                            3.0, 3.0 * std::pow(10000.0, -2.0 / 4)};
  for (int pair = 0; pair < 6; ++pair) {
    EXPECT_NEAR(result[token * 12 + 2 * pair], std::cos(angles[pair]), 1e-6) << pair;
    EXPECT_NEAR(result[token * 12 + 2 * pair + 1], std::sin(angles[pair]), 1e-6) << pair;
  }
}

TEST(Conformance, Rope) {
  KernelRegistries& kernels = cpu_device().kernels();
  for (const std::string& name : kernels.rope.names()) {
    for (DType dtype : conformance::kActivationDTypes) {
      for (int64_t head_dim : {128, 64, 12}) {
        SCOPED_TRACE(name + " " + dtype_name(dtype) + " d=" + std::to_string(head_dim));
        const RopeGrid grid{3, 4, 6};
        const Shape shape{grid.tokens(), 2, head_dim};
        const Tensor x = random_tensor(shape, dtype, 11);
        Tensor expected = Tensor::host(shape, DType::f32), actual = Tensor::host(shape, dtype);
        reference::wan_rope(x, grid, RopeOptions{head_dim, 10000.0}, expected);
        auto kernel = kernels.rope.create(name);
        kernel->load(RopeOptions{head_dim, 10000.0});
        kernel->apply(x, grid, actual);
        EXPECT_LE(relative_error(actual, expected), tolerance(dtype));
        // In place gives the same result.
        Tensor in_place = x.to_host(dtype);
        kernel->apply(in_place, grid, in_place);
        EXPECT_LE(relative_error(in_place, expected), tolerance(dtype));
      }
    }
  }
}

TEST(Conformance, RopeRejectsTokenCountMismatch) {
  auto kernel = cpu_device().kernels().rope.create("cpu_wan_rope");
  kernel->load(RopeOptions{64, 10000.0});
  const Tensor x = random_tensor({10, 1, 64}, DType::f32, 12);
  Tensor out = Tensor::host({10, 1, 64}, DType::f32);
  EXPECT_THROW(kernel->apply(x, RopeGrid{1, 3, 3}, out), Error);
}

}  // namespace
}  // namespace x2v
