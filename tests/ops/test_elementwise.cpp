// Every elementwise op of every device under test against the reference, through the ops:: entry points too.
#include <functional>

#include "conformance.h"
#include "platform/ops.h"
#include "platform/platform.h"
#include "platform/reference/reference.h"

namespace x2v {
namespace {

using conformance::devices_under_test;
using conformance::on_device;
using conformance::random_tensor;
using conformance::relative_error;
using conformance::tolerance;

struct OpCase {
  std::string op;
  std::vector<Shape> operand_shapes;  // beyond the first input
  std::vector<float> params;
};

TEST(Conformance, ElementwiseOps) {
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
      {"clamp", {}, {-1.0f, 0.75f}},
      {"channel_l2_norm", {{37}}, {1e-12f, 0.0f}},  // layouts and the fused silu: ChannelRmsNorm below
  };
  for (const std::string& op : elementwise_op_names()) {
    bool covered = false;
    for (const OpCase& op_case : cases) covered = covered || op_case.op == op;
    EXPECT_TRUE(covered) << "elementwise op '" << op << "' has no conformance case";
  }
  for (Device* device : devices_under_test())
    for (const OpCase& op_case : cases) {
      for (DType dtype : conformance::kActivationDTypes) {
        SCOPED_TRACE(device->name() + " " + op_case.op + " " + dtype_name(dtype));
        std::vector<Tensor> inputs = {random_tensor(shape, dtype, 21, 2.0f)};
        if (op_case.op == "fill") inputs.clear();
        uint32_t seed = 22;
        for (const Shape& operand_shape : op_case.operand_shapes)
          inputs.push_back(random_tensor(operand_shape, dtype, seed++));
        Tensor expected = Tensor::host(shape, DType::f32), actual = empty(shape, dtype, *device);
        reference::elementwise(op_case.op, inputs, op_case.params, expected);
        auto kernel = device->kernels().elementwise.create(op_case.op);
        kernel->load(op_case.params);
        std::vector<Tensor> device_inputs;
        for (const Tensor& input : inputs) device_inputs.push_back(on_device(input, *device));
        kernel->apply(device_inputs, actual);
        EXPECT_LE(relative_error(actual, expected), tolerance(dtype));
      }
    }
}

TEST(Conformance, CopyGathersStridesAndConverts) {
  for (Device* device : devices_under_test()) {
    const Tensor x = random_tensor({4, 5, 6}, DType::f32, 31);
    const Tensor view = on_device(x, *device).permute({2, 0, 1}).slice(0, 1, 5);
    Tensor out = empty(view.shape(), DType::bf16, *device);
    ops::copy(view, out);
    Tensor expected = Tensor::host(view.shape(), DType::f32);
    reference::elementwise("copy", {x.permute({2, 0, 1}).slice(0, 1, 5)}, {}, expected);
    EXPECT_LE(relative_error(out, expected), tolerance(DType::bf16)) << device->name();
    // Into a strided destination as well.
    Tensor target = empty({6, 4, 5}, DType::f32, *device);
    Tensor target_view = target.permute({1, 2, 0});
    ops::copy(on_device(x, *device), target_view);
    EXPECT_EQ(conformance::on_host(target).permute({1, 2, 0}).to_floats(), x.to_floats()) << device->name();
  }
}

TEST(Conformance, CopyOfBroadcastAndTransposedViews) {
  // Nearest 2x upsampling as a stride-0 view ([C, T, H, W] -> [C, T, 2H, 2W]), the VAE's frame shuffle
  // and a token-major transpose, in every dtype pair the models use.
  struct ViewCase {
    Shape base_shape;
    std::function<Tensor(const Tensor&)> view;
    bool writable;
  };
  const std::vector<ViewCase> cases = {
      {{3, 2, 5, 7},
       [](const Tensor& t) {
         return t.as_strided({3, 2, 5, 2, 7, 2}, {70, 35, 7, 0, 1, 0}, 0);
       },
       false},
      {{2, 3, 4, 5, 6},
       [](const Tensor& t) {
         return t.permute({1, 2, 0, 3, 4});
       },
       true},
      {{40, 300}, [](const Tensor& t) { return t.transpose(0, 1); }, true},
  };
  for (Device* device : devices_under_test()) {
    uint32_t seed = 33;
    for (const ViewCase& view_case : cases)
      for (DType source : {DType::f32, DType::bf16})
        for (DType target : {DType::f32, DType::bf16}) {
          const Tensor base = random_tensor(view_case.base_shape, source, seed++);
          const Tensor input = view_case.view(on_device(base, *device));
          SCOPED_TRACE(concat(device->name(), " ", input.describe(), " -> ", dtype_name(target)));
          Tensor out = empty(input.shape(), target, *device);
          ops::copy(input, out);
          Tensor expected = Tensor::host(input.shape(), DType::f32);
          reference::elementwise("copy", {view_case.view(base)}, {}, expected);
          EXPECT_LE(relative_error(out, expected), tolerance(target));
          if (!view_case.writable) continue;
          // Into the same strided layout on the target side.
          Tensor strided_target = view_case.view(empty(view_case.base_shape, target, *device));
          ops::copy(input, strided_target);
          EXPECT_LE(relative_error(strided_target, expected), tolerance(target));
        }
  }
}

TEST(Conformance, ChannelRmsNorm) {
  // Channels first, positions not a multiple of the block; a zero column checks the eps guard; with and
  // without the fused SiLU; into a contiguous out and into a time slice of a larger window.
  for (Device* device : devices_under_test())
    for (const Shape& shape : {Shape{16, 3, 5, 7}, Shape{384, 2, 9, 13}, Shape{2, 1000}}) {
      for (DType dtype : conformance::kActivationDTypes) {
        for (const bool silu : {false, true}) {
          SCOPED_TRACE(concat(device->name(), " ", shape_to_string(shape), " ", dtype_name(dtype),
                              silu ? " silu" : ""));
          Tensor x = random_tensor(shape, dtype, 61, 3.0f);
          Tensor column = x.reshape({shape[0], -1}).slice(1, 0, 1);
          ops::fill(column, 0.0f);
          const Tensor gamma = random_tensor({shape[0], 1, 1}, DType::f32, 62);
          const Tensor device_x = on_device(x, *device), device_gamma = on_device(gamma, *device);
          Tensor expected = Tensor::host(shape, DType::f32), actual = empty(shape, dtype, *device);
          reference::elementwise("channel_l2_norm", {x, gamma}, {1e-12f, silu ? 1.0f : 0.0f}, expected);
          ops::channel_l2_norm(device_x, device_gamma, actual, silu);
          EXPECT_LE(relative_error(actual, expected), tolerance(dtype));
          Shape window_shape = shape;
          window_shape[1] += 2;
          Tensor window = empty(window_shape, dtype, *device);
          Tensor slot = window.slice(1, 2, window_shape[1]);
          ops::channel_l2_norm(device_x, device_gamma, slot, silu);
          EXPECT_LE(relative_error(slot, expected), tolerance(dtype));
        }
      }
    }
  // Against the definition on a case small enough to write down: x = [3, 4] over 2 channels.
  const Tensor x = Tensor::host_from({3.0f, 4.0f}, {2, 1});
  const Tensor gamma = Tensor::host_from({1.0f, 2.0f}, {2});
  Tensor out = Tensor::host({2, 1}, DType::f32);
  ops::channel_l2_norm(x, gamma, out);
  const std::vector<float> values = out.to_floats();
  EXPECT_NEAR(values[0], 3.0 / 5.0 * std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(values[1], 4.0 / 5.0 * std::sqrt(2.0) * 2.0, 1e-6);
  Tensor wrong_gamma = Tensor::host({3}, DType::f32);
  EXPECT_THROW(ops::channel_l2_norm(x, wrong_gamma, out), Error);
  Tensor transposed = Tensor::host({1, 2}, DType::f32).transpose(0, 1);
  EXPECT_NO_THROW(ops::channel_l2_norm(x, gamma, transposed));  // one position: any channel stride
  Tensor gathered = Tensor::host({3, 2}, DType::f32).transpose(0, 1);
  EXPECT_THROW(ops::channel_l2_norm(Tensor::host({2, 3}, DType::f32), gamma, gathered), Error);
}

TEST(Conformance, OpsEntryPointsDispatchToTheDevice) {
  for (Device* device : devices_under_test()) {
    SCOPED_TRACE(device->name());
    const Tensor host_x = random_tensor({8, 16}, DType::f32, 41);
    const Tensor host_shift = random_tensor({16}, DType::f32, 42),
                 host_scale = random_tensor({16}, DType::f32, 43);
    const Tensor x = on_device(host_x, *device), shift = on_device(host_shift, *device),
                 scale = on_device(host_scale, *device);
    Tensor out = empty_like(x), expected = Tensor::host({8, 16}, DType::f32);
    EXPECT_EQ(&device_of(out), device);
    ops::modulate(x, shift, scale, out);
    reference::elementwise("modulate", {host_x, host_shift, host_scale}, {}, expected);
    EXPECT_LE(relative_error(out, expected), tolerance(DType::f32));
    ops::scale(x, 3.0f, 1.0f, out);
    reference::elementwise("scale", {host_x}, {3.0f, 1.0f}, expected);
    EXPECT_LE(relative_error(out, expected), tolerance(DType::f32));
    ops::clamp(x, -0.5f, 0.25f, out);
    reference::elementwise("clamp", {host_x}, {-0.5f, 0.25f}, expected);
    EXPECT_LE(relative_error(out, expected), tolerance(DType::f32));
    const Tensor half = ops::cast(x, DType::f16);
    EXPECT_EQ(half.dtype(), DType::f16);
    EXPECT_LE(relative_error(half, host_x), tolerance(DType::f16));
  }
}

TEST(Conformance, ElementwiseRejectsBadBroadcast) {
  const Tensor x = random_tensor({4, 8}, DType::f32, 51);
  const Tensor wrong = random_tensor({5}, DType::f32, 52);
  Tensor out = empty_like(x);
  EXPECT_THROW(ops::add(x, wrong, out), Error);
}

}  // namespace
}  // namespace x2v
