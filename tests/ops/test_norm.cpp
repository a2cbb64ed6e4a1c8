// Every rms_norm and layer_norm kernel of the cpu platform against the reference.
#include "conformance.h"
#include "platform/platform.h"
#include "platform/reference/reference.h"

namespace x2v {
namespace {

using conformance::random_tensor;
using conformance::relative_error;
using conformance::tolerance;

TEST(Conformance, RmsNorm) {
  KernelRegistries& kernels = cpu_device().kernels();
  for (const std::string& name : kernels.rms_norm.names()) {
    for (DType dtype : conformance::kActivationDTypes) {
      for (const Shape& shape : {Shape{1, 7}, Shape{33, 256}, Shape{3, 5, 1536}}) {
        for (bool with_weight : {true, false}) {
          SCOPED_TRACE(name + " " + dtype_name(dtype) + " " + shape_to_string(shape));
          const Tensor x = random_tensor(shape, dtype, 1, 3.0f);
          const Tensor weight = with_weight ? random_tensor({shape.back()}, DType::f32, 2) : Tensor();
          Tensor expected = Tensor::host(shape, DType::f32), actual = Tensor::host(shape, dtype);
          reference::rms_norm(x, weight, 1e-6f, expected);
          auto kernel = kernels.rms_norm.create(name);
          kernel->load(weight, 1e-6f);
          kernel->apply(x, actual);
          EXPECT_LE(relative_error(actual, expected), tolerance(dtype));
        }
      }
    }
  }
}

TEST(Conformance, LayerNorm) {
  KernelRegistries& kernels = cpu_device().kernels();
  for (const std::string& name : kernels.layer_norm.names()) {
    for (DType dtype : conformance::kActivationDTypes) {
      for (const Shape& shape : {Shape{1, 5}, Shape{40, 384}}) {
        for (bool affine : {true, false}) {
          SCOPED_TRACE(name + " " + dtype_name(dtype) + " " + shape_to_string(shape) +
                       (affine ? " affine" : ""));
          // An offset mean stresses the variance computation.
          Tensor x = random_tensor(shape, DType::f32, 3, 2.0f);
          std::vector<float> shifted = x.to_floats();
          for (float& value : shifted) value += 5.0f;
          x = Tensor::host_from(shifted, shape, dtype);
          const Tensor weight = affine ? random_tensor({shape.back()}, DType::f32, 4) : Tensor();
          const Tensor bias = affine ? random_tensor({shape.back()}, DType::f32, 5) : Tensor();
          Tensor expected = Tensor::host(shape, DType::f32), actual = Tensor::host(shape, dtype);
          reference::layer_norm(x, weight, bias, 1e-6f, expected);
          auto kernel = kernels.layer_norm.create(name);
          kernel->load(weight, bias, 1e-6f);
          kernel->apply(x, actual);
          EXPECT_LE(relative_error(actual, expected), tolerance(dtype));
        }
      }
    }
  }
}

TEST(Conformance, NormOnStridedRows) {
  // q/k norms run on rows of a wider buffer: a view with a row stride larger than the width.
  const Tensor wide = random_tensor({6, 64}, DType::f32, 6);
  const Tensor view = wide.slice(1, 16, 48);
  Tensor expected = Tensor::host({6, 32}, DType::f32), actual = Tensor::host({6, 32}, DType::f32);
  reference::rms_norm(view, Tensor(), 1e-6f, expected);
  auto kernel = cpu_device().kernels().rms_norm.create("cpu_rms_norm");
  kernel->load(Tensor(), 1e-6f);
  kernel->apply(view, actual);
  EXPECT_LE(relative_error(actual, expected), tolerance(DType::f32));
}

TEST(Conformance, NormRejectsMismatchedWeight) {
  auto kernel = cpu_device().kernels().rms_norm.create("cpu_rms_norm");
  kernel->load(random_tensor({8}, DType::f32, 7), 1e-6f);
  const Tensor x = random_tensor({2, 16}, DType::f32, 8);
  Tensor out = Tensor::host({2, 16}, DType::f32);
  EXPECT_THROW(kernel->apply(x, out), Error);
}

}  // namespace
}  // namespace x2v
