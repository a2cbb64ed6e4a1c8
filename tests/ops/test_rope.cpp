// Every rope kernel of every device under test against the reference, on random angle tables.
#include "conformance.h"
#include "platform/platform.h"
#include "platform/reference/reference.h"

namespace x2v {
namespace {

using conformance::devices_under_test;
using conformance::kernels_under_test;
using conformance::on_device;
using conformance::random_tensor;
using conformance::relative_error;
using conformance::tolerance;

// cos/sin of random angles in [-pi, pi], [tokens, pairs].
RopeTables random_tables(int64_t tokens, int64_t pairs, uint32_t seed) {
  const std::vector<float> angles = random_tensor({tokens, pairs}, DType::f32, seed, 1.5f).to_floats();
  std::vector<float> cosines(angles.size()), sines(angles.size());
  for (size_t i = 0; i < angles.size(); ++i) {
    cosines[i] = std::cos(angles[i]);
    sines[i] = std::sin(angles[i]);
  }
  return RopeTables{Tensor::host_from(cosines, {tokens, pairs}), Tensor::host_from(sines, {tokens, pairs})};
}

TEST(Conformance, Rope) {
  for (Device* device : devices_under_test())
    for (const std::string& name : kernels_under_test(device->kernels().rope))
      for (DType dtype : conformance::kActivationDTypes)
        for (int64_t head_dim : {128, 64, 12}) {
          SCOPED_TRACE(device->name() + " " + name + " " + dtype_name(dtype) +
                       " d=" + std::to_string(head_dim));
          const int64_t tokens = 72;
          const Shape shape{tokens, 2, head_dim};
          const Tensor x = random_tensor(shape, dtype, 11);
          const RopeTables tables = random_tables(tokens, head_dim / 2, 12);
          const RopeTables device_tables{on_device(tables.cos, *device), on_device(tables.sin, *device)};
          Tensor expected = Tensor::host(shape, DType::f32), actual = empty(shape, dtype, *device);
          reference::rope(x, tables, expected);
          auto kernel = device->kernels().rope.create(name);
          kernel->apply(on_device(x, *device), device_tables, actual);
          EXPECT_LE(relative_error(actual, expected), tolerance(dtype));
          // In place gives the same result.
          Tensor in_place = on_device(x, *device);
          kernel->apply(in_place, device_tables, in_place);
          EXPECT_LE(relative_error(in_place, expected), tolerance(dtype));
        }
}

TEST(Conformance, RopeRejectsTablesOfAnotherTokenCount) {
  for (Device* device : devices_under_test()) {
    auto kernel = device->kernels().rope.create("");
    const Tensor x = on_device(random_tensor({10, 1, 64}, DType::f32, 12), *device);
    const RopeTables tables = random_tables(9, 32, 13);
    Tensor out = empty({10, 1, 64}, DType::f32, *device);
    EXPECT_THROW(
        kernel->apply(x, RopeTables{on_device(tables.cos, *device), on_device(tables.sin, *device)}, out),
        Error)
        << device->name();
  }
}

}  // namespace
}  // namespace x2v
