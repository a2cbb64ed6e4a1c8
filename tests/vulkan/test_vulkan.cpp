// The vulkan platform's own limits on lavapipe: a tensor past the device's storage buffer range (128 MiB on
// lavapipe) still computes right (the call runs on the host), and the device reports its memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {
namespace {

Device& vulkan() {
  initialize_platforms();
  Device* device = devices().find("vulkan");
  if (device == nullptr || !device->is_available()) throw Error("test", "no usable vulkan device");
  return *device;
}

Tensor random_values(const Shape& shape, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(shape_numel(shape));
  for (float& value : values) value = uniform(generator);
  return Tensor::host_from(values, shape);
}

TEST(Vulkan, ReportsItsMemory) {
  const DeviceMemory memory = vulkan().memory();
  EXPECT_GT(memory.total, 0u);
  EXPECT_GT(memory.largest_buffer_range, 0u);
  EXPECT_LE(memory.free, memory.total);
}

TEST(Vulkan, SmallTensorsShareBuffersAndKeepTheirOwnBytes) {
  Device& device = vulkan();
  device.allocator().release_cache();
  const size_t reserved_before = device.allocator().stats().reserved_bytes;
  // 64 tensors of 4 KiB: one 2 MiB buffer holds them all, at offsets the kernels must honour.
  std::vector<Tensor> a, b, sums;
  for (int i = 0; i < 64; ++i) {
    a.push_back(ops::to_device(random_values({1024}, 10 + i), device));
    b.push_back(ops::to_device(random_values({1024}, 100 + i), device));
    sums.push_back(empty({1024}, DType::f32, device));
  }
  EXPECT_LE(device.allocator().stats().reserved_bytes - reserved_before, size_t{2} << 20)
      << "192 tensors of 4 KiB are sub-allocated, not one buffer each";
  for (int i = 0; i < 64; ++i) ops::add(a[i], b[i], sums[i]);
  for (int i = 0; i < 64; ++i) {
    const std::vector<float> got = ops::to_device(sums[i], host_device()).to_floats(),
                             x = random_values({1024}, 10 + i).to_floats(),
                             y = random_values({1024}, 100 + i).to_floats();
    for (size_t j = 0; j < got.size(); ++j)
      ASSERT_EQ(got[j], x[j] + y[j]) << "tensor " << i << ", element " << j;
  }
}

TEST(Vulkan, WeightPastTheStorageBufferRangeStillComputes) {
  Device& device = vulkan();
  const size_t range = device.memory().largest_buffer_range;
  // A weight just past the range (on lavapipe 128 MiB + 4 KiB; skipped where the range is larger than 1 GiB).
  if (range > (size_t{1} << 30)) GTEST_SKIP() << "the storage buffer range is " << range << " bytes";
  const int64_t in_features = 1024, out_features = static_cast<int64_t>(range / (in_features * 4)) + 1;
  const Tensor weight = random_values({out_features, in_features}, 1), x = random_values({2, in_features}, 2);
  auto kernel = device.kernels().mm.create("");
  kernel->load(ops::to_device(weight, device), Tensor());
  Tensor y = empty({2, out_features}, DType::f32, device);
  kernel->apply(ops::to_device(x, device), y);
  auto host = host_device().kernels().mm.create("");
  host->load(weight, Tensor());
  Tensor expected = Tensor::host({2, out_features}, DType::f32);
  host->apply(x, expected);
  const std::vector<float> actual = ops::to_device(y, host_device()).to_floats(),
                           wanted = expected.to_floats();
  double worst = 0;
  for (size_t i = 0; i < wanted.size(); ++i)
    worst = std::max(worst, std::fabs(double(actual[i]) - wanted[i]));
  EXPECT_LE(worst, 1e-3);
}

}  // namespace
}  // namespace x2v
