// Every elementwise op of the cpu platform against the reference, through the ops:: entry points too.
#include "conformance.h"
#include "platform/ops.h"
#include "platform/platform.h"
#include "platform/reference/reference.h"

namespace x2v {
namespace {

using conformance::random_tensor;
using conformance::relative_error;
using conformance::tolerance;

struct OpCase {
  std::string op;
  std::vector<Shape> operand_shapes;  // beyond the first input
  std::vector<float> params;
};

TEST(Conformance, ElementwiseOps) {
  KernelRegistries& kernels = cpu_device().kernels();
  const Shape shape{37, 300};  // not a multiple of the chunk size, so tails are covered
  const std::vector<OpCase> cases = {
      {"copy", {}, {}},
      {"add", {{37, 300}}, {}},
      {"add", {{300}}, {}},
      {"mul", {{300}}, {}},
      {"gelu_tanh", {}, {}},
      {"gelu_erf", {}, {}},
      {"silu", {}, {}},
      {"modulate", {{300}, {300}}, {}},
      {"gated_residual", {{37, 300}, {300}}, {}},
      {"softmax", {}, {}},
      {"scale", {}, {0.5f, -2.0f}},
      {"fill", {}, {1.25f}},
  };
  for (const std::string& op : elementwise_op_names()) {
    bool covered = false;
    for (const OpCase& op_case : cases) covered = covered || op_case.op == op;
    EXPECT_TRUE(covered) << "elementwise op '" << op << "' has no conformance case";
  }
  for (const OpCase& op_case : cases) {
    for (DType dtype : conformance::kActivationDTypes) {
      SCOPED_TRACE(op_case.op + " " + dtype_name(dtype));
      std::vector<Tensor> inputs = {random_tensor(shape, dtype, 21, 2.0f)};
      if (op_case.op == "fill") inputs.clear();
      uint32_t seed = 22;
      for (const Shape& operand_shape : op_case.operand_shapes)
        inputs.push_back(random_tensor(operand_shape, dtype, seed++));
      Tensor expected = Tensor::host(shape, DType::f32), actual = Tensor::host(shape, dtype);
      reference::elementwise(op_case.op, inputs, op_case.params, expected);
      auto kernel = kernels.elementwise.create(op_case.op);
      kernel->load(op_case.params);
      kernel->apply(inputs, actual);
      EXPECT_LE(relative_error(actual, expected), tolerance(dtype));
    }
  }
}

TEST(Conformance, CopyGathersStridesAndConverts) {
  const Tensor x = random_tensor({4, 5, 6}, DType::f32, 31);
  const Tensor view = x.permute({2, 0, 1}).slice(0, 1, 5);
  Tensor out = empty(view.shape(), DType::bf16, cpu_device());
  ops::copy(view, out);
  Tensor expected = Tensor::host(view.shape(), DType::f32);
  reference::elementwise("copy", {view}, {}, expected);
  EXPECT_LE(relative_error(out, expected), tolerance(DType::bf16));
  // Into a strided destination as well.
  Tensor target = Tensor::host({6, 4, 5}, DType::f32);
  Tensor target_view = target.permute({1, 2, 0});
  ops::copy(x, target_view);
  EXPECT_EQ(target_view.to_floats(), x.to_floats());
}

TEST(Conformance, OpsEntryPointsDispatchToTheDevice) {
  const Tensor x = random_tensor({8, 16}, DType::f32, 41);
  const Tensor shift = random_tensor({16}, DType::f32, 42), scale = random_tensor({16}, DType::f32, 43);
  Tensor out = empty_like(x), expected = Tensor::host({8, 16}, DType::f32);
  ops::modulate(x, shift, scale, out);
  reference::elementwise("modulate", {x, shift, scale}, {}, expected);
  EXPECT_LE(relative_error(out, expected), tolerance(DType::f32));
  ops::scale(x, 3.0f, 1.0f, out);
  reference::elementwise("scale", {x}, {3.0f, 1.0f}, expected);
  EXPECT_LE(relative_error(out, expected), tolerance(DType::f32));
  const Tensor half = ops::cast(x, DType::f16);
  EXPECT_EQ(half.dtype(), DType::f16);
  EXPECT_LE(relative_error(half, x), tolerance(DType::f16));
}

TEST(Conformance, ElementwiseRejectsBadBroadcast) {
  const Tensor x = random_tensor({4, 8}, DType::f32, 51);
  const Tensor wrong = random_tensor({5}, DType::f32, 52);
  Tensor out = empty_like(x);
  EXPECT_THROW(ops::add(x, wrong, out), Error);
}

}  // namespace
}  // namespace x2v
