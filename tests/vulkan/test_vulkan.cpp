// The vulkan platform's own limits on lavapipe: a tensor past the device's storage buffer range (128 MiB on
// lavapipe) still computes right, split into calls that fit (X2V_VULKAN_STORAGE_RANGE makes the range small
// enough for small tensors to show it), and the device reports its memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "platform/ops.h"
#include "platform/platform.h"
#include "platform/vulkan/vulkan_backend.h"
#include "quant/quantize.h"

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

uint64_t dispatches(Device& device) {
  return dynamic_cast<vulkan::Backend&>(device).dispatcher().dispatches();
}

double worst_difference(const Tensor& actual, const Tensor& expected) {
  const std::vector<float> a = ops::to_device(actual, host_device()).to_floats(), e = expected.to_floats();
  double worst = 0;
  for (size_t i = 0; i < e.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - e[i]));
  return worst;
}

// Uploads enqueued on a worker stream (the transfer queue where the device has one; tests/vulkan/tests.cmake
// also runs this through the staging buffer) run while the caller computes, and are complete at their event.
TEST(Vulkan, UploadsOnAStreamOverlapComputeAndFinishByTheirEvent) {
  Device& device = vulkan();
  std::unique_ptr<Stream> uploads = device.create_stream();
  std::unique_ptr<Event> uploaded = device.create_event();
  std::vector<Tensor> sources, targets;
  for (int i = 0; i < 6; ++i) {
    sources.push_back(random_values({1 << 18}, 200 + i));  // 1 MiB each
    targets.push_back(empty({1 << 18}, DType::f32, device));
    device.copy_async(sources[i].raw_data(), targets[i].raw_data(), sources[i].nbytes(),
                      CopyKind::host_to_device, *uploads);
  }
  uploaded->record(*uploads);
  // Shaders on the compute queue meanwhile.
  const Tensor a = ops::to_device(random_values({4096}, 1), device);
  Tensor b = empty({4096}, DType::f32, device);
  for (int i = 0; i < 20; ++i) ops::add(a, a, b);
  device.compute_stream().wait(*uploaded);
  uploaded->synchronize();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(worst_difference(targets[i], sources[i]), 0.0) << "upload " << i;
  const std::vector<float> doubled = ops::to_device(b, host_device()).to_floats(),
                           values = random_values({4096}, 1).to_floats();
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(doubled[i], values[i] + values[i]);
}

// Run with X2V_VULKAN_STORAGE_RANGE=65536 (tests/vulkan/tests.cmake): tensors of a few hundred KiB then span
// several ranges, and the matmul, the norms and the elementwise ops run them on the device in pieces.
TEST(Vulkan, TensorsPastTheRangeRunOnTheDeviceInPieces) {
  Device& device = vulkan();
  const size_t range = device.memory().largest_buffer_range;
  if (range > (size_t{1} << 20)) GTEST_SKIP() << "needs X2V_VULKAN_STORAGE_RANGE at most 1 MiB";
  const int64_t rows = 300, in_features = 512, out_features = 3 * static_cast<int64_t>(range) / 2048;
  const Tensor weight = random_values({out_features, in_features}, 1),
               bias = random_values({out_features}, 2), x = random_values({rows, in_features}, 3);
  // mm: a weight of 3 ranges, an x of 9 and a y of 1.8 (under lavapipe's work budget for the device).
  auto kernel = device.kernels().mm.create("");
  kernel->load(ops::to_device(weight, device), ops::to_device(bias, device));
  Tensor y = empty({rows, out_features}, DType::f32, device);
  uint64_t before = dispatches(device);
  kernel->apply(ops::to_device(x, device), y);
  EXPECT_GE(dispatches(device) - before, 6u) << "mm in pieces";
  auto host = host_device().kernels().mm.create("");
  host->load(weight, bias);
  Tensor expected = Tensor::host({rows, out_features}, DType::f32);
  host->apply(x, expected);
  EXPECT_LE(worst_difference(y, expected), 1e-3);
  // add over the whole y (several ranges) with a broadcast row.
  Tensor sum = empty(y.shape(), DType::f32, device);
  before = dispatches(device);
  ops::add(y, ops::to_device(bias, device), sum);
  EXPECT_GE(dispatches(device) - before, 2u) << "add in pieces";
  Tensor expected_sum = Tensor::host(y.shape(), DType::f32);
  ops::add(expected, bias, expected_sum);
  EXPECT_LE(worst_difference(sum, expected_sum), 1e-3);
  // RMS norm over rows of y.
  auto norm = device.kernels().rms_norm.create("");
  norm->load(ops::to_device(bias, device), 1e-6f);
  Tensor normed = empty(y.shape(), DType::f32, device);
  before = dispatches(device);
  norm->apply(sum, normed);
  EXPECT_GE(dispatches(device) - before, 2u) << "rms_norm in pieces";
  auto host_norm = host_device().kernels().rms_norm.create("");
  host_norm->load(bias, 1e-6f);
  Tensor expected_normed = Tensor::host(y.shape(), DType::f32);
  host_norm->apply(expected_sum, expected_normed);
  EXPECT_LE(worst_difference(normed, expected_normed), 1e-3);
  // A copy with a dtype conversion over the whole of y, and RoPE over [tokens, heads, 64].
  Tensor converted = empty(y.shape(), DType::bf16, device);
  before = dispatches(device);
  ops::copy(sum, converted);
  EXPECT_GE(dispatches(device) - before, 2u) << "copy in pieces";
  Tensor expected_converted = Tensor::host(y.shape(), DType::bf16);
  ops::copy(ops::to_device(sum, host_device()), expected_converted);  // the same values, rounded on the host
  EXPECT_LE(worst_difference(converted, expected_converted.to_host(DType::f32)), 0.0);
  const int64_t tokens = 200, heads = 4, dim = 64;
  const Tensor rotated_input = random_values({tokens, heads, dim}, 7);
  const RopeTables host_tables{random_values({tokens, dim / 2}, 8), random_values({tokens, dim / 2}, 9)};
  const RopeTables tables{ops::to_device(host_tables.cos, device), ops::to_device(host_tables.sin, device)};
  Tensor rotated = empty(rotated_input.shape(), DType::f32, device);
  before = dispatches(device);
  device.kernels().rope.create("")->apply(ops::to_device(rotated_input, device), tables, rotated);
  EXPECT_GE(dispatches(device) - before, 2u) << "rope in pieces";
  Tensor expected_rotated = Tensor::host(rotated_input.shape(), DType::f32);
  host_device().kernels().rope.create("")->apply(rotated_input, host_tables, expected_rotated);
  EXPECT_LE(worst_difference(rotated, expected_rotated), 1e-5);
}

// The W8A8 matmul, with and without integer dot products, in pieces.
TEST(Vulkan, QuantizedWeightsPastTheRangeRunOnTheDeviceInPieces) {
  Device& device = vulkan();
  const size_t range = device.memory().largest_buffer_range;
  if (range > (size_t{1} << 20)) GTEST_SKIP() << "needs X2V_VULKAN_STORAGE_RANGE at most 1 MiB";
  const int64_t rows = 24, in_features = 4096, out_features = 3 * static_cast<int64_t>(range) / 4096;
  const QuantizedWeight weight =
      quantize_weight(random_values({out_features, in_features}, 4), QuantFormat::int8);
  const Tensor x = random_values({rows, in_features}, 5);
  auto kernel = device.kernels().mm.create("int8-vllm");
  kernel->load_quantized({ops::to_device(weight.weight, device), ops::to_device(weight.scale, device)},
                         Tensor());
  Tensor y = empty({rows, out_features}, DType::f32, device);
  const uint64_t before = dispatches(device);
  kernel->apply(ops::to_device(x, device), y);
  EXPECT_GE(dispatches(device) - before, 4u) << "int8 mm in pieces";
  auto host = host_device().kernels().mm.create("int8-vllm");
  host->load_quantized(weight, Tensor());
  Tensor expected = Tensor::host({rows, out_features}, DType::f32);
  host->apply(x, expected);
  EXPECT_LE(worst_difference(y, expected), 1e-3);
}

}  // namespace
}  // namespace x2v
