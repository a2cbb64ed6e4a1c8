// Every rms_norm and layer_norm kernel of every device under test against the reference.
#include "conformance.h"
#include "platform/ops.h"
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

TEST(Conformance, RmsNorm) {
  for (Device* device : devices_under_test())
    for (const std::string& name : kernels_under_test(device->kernels().rms_norm)) {
      for (DType dtype : conformance::kActivationDTypes) {
        for (const Shape& shape : {Shape{1, 7}, Shape{33, 256}, Shape{3, 5, 1536}}) {
          for (bool with_weight : {true, false}) {
            SCOPED_TRACE(name + " " + dtype_name(dtype) + " " + shape_to_string(shape));
            const Tensor x = random_tensor(shape, dtype, 1, 3.0f);
            const Tensor weight = with_weight ? random_tensor({shape.back()}, DType::f32, 2) : Tensor();
            Tensor expected = Tensor::host(shape, DType::f32), actual = empty(shape, dtype, *device);
            reference::rms_norm(x, weight, 1e-6f, expected);
            auto kernel = device->kernels().rms_norm.create(name);
            kernel->load(on_device(weight, *device), 1e-6f);
            kernel->apply(on_device(x, *device), actual);
            EXPECT_LE(relative_error(actual, expected), tolerance(dtype));
          }
        }
      }
    }
}

TEST(Conformance, LayerNorm) {
  for (Device* device : devices_under_test())
    for (const std::string& name : kernels_under_test(device->kernels().layer_norm)) {
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
            Tensor expected = Tensor::host(shape, DType::f32), actual = empty(shape, dtype, *device);
            reference::layer_norm(x, weight, bias, 1e-6f, expected);
            auto kernel = device->kernels().layer_norm.create(name);
            kernel->load(on_device(weight, *device), on_device(bias, *device), 1e-6f);
            kernel->apply(on_device(x, *device), actual);
            EXPECT_LE(relative_error(actual, expected), tolerance(dtype));
          }
        }
      }
    }
}

// The DiT's adaLN step: layer_norm then x * (1 + scale) + shift, fused or not, against the reference.
TEST(Conformance, LayerNormModulated) {
  for (Device* device : devices_under_test())
    for (const std::string& name : kernels_under_test(device->kernels().layer_norm)) {
      for (DType dtype : conformance::kActivationDTypes) {
        SCOPED_TRACE(name + " " + dtype_name(dtype));
        const Shape shape{37, 384};
        const Tensor x = random_tensor(shape, dtype, 7, 2.0f);
        const Tensor shift = random_tensor({384}, DType::f32, 8), scale = random_tensor({384}, DType::f32, 9);
        Tensor normed = Tensor::host(shape, DType::f32), expected = Tensor::host(shape, DType::f32);
        reference::layer_norm(x, Tensor(), Tensor(), 1e-6f, normed);
        const std::vector<float> n = normed.to_floats(), b = shift.to_floats(), s = scale.to_floats();
        std::vector<float> e(n.size());
        for (size_t i = 0; i < n.size(); ++i) e[i] = n[i] * (1.0f + s[i % 384]) + b[i % 384];
        expected = Tensor::host_from(e, shape);
        auto kernel = device->kernels().layer_norm.create(name);
        kernel->load(Tensor(), Tensor(), 1e-6f);
        Tensor fused = empty(shape, dtype, *device), separate = empty(shape, dtype, *device),
               separate_normed = empty(shape, DType::f32, *device);
        kernel->apply_modulated(on_device(x, *device), on_device(shift, *device), on_device(scale, *device),
                                fused);
        EXPECT_LE(relative_error(fused, expected), tolerance(dtype));
        kernel->apply(on_device(x, *device), separate_normed);
        ops::modulate(separate_normed, on_device(shift, *device), on_device(scale, *device), separate);
        EXPECT_EQ(relative_error(fused, conformance::on_host(separate)), 0.0)
            << "fused and separate compute the same f32 operations";
        EXPECT_THROW(
            kernel->apply_modulated(on_device(x, *device), on_device(shift.slice(0, 0, 100), *device),
                                    on_device(scale, *device), fused),
            Error);
      }
    }
}

TEST(Conformance, NormOnStridedRows) {
  // q/k norms run on rows of a wider buffer: a view with a row stride larger than the width.
  for (Device* device : devices_under_test()) {
    const Tensor wide = random_tensor({6, 64}, DType::f32, 6);
    const Tensor view = on_device(wide, *device).slice(1, 16, 48);
    Tensor expected = Tensor::host({6, 32}, DType::f32), actual = empty({6, 32}, DType::f32, *device);
    reference::rms_norm(wide.slice(1, 16, 48), Tensor(), 1e-6f, expected);
    auto kernel = device->kernels().rms_norm.create("");
    kernel->load(Tensor(), 1e-6f);
    kernel->apply(view, actual);
    EXPECT_LE(relative_error(actual, expected), tolerance(DType::f32)) << device->name();
  }
}

TEST(Conformance, NormRejectsMismatchedWeight) {
  for (Device* device : devices_under_test()) {
    auto kernel = device->kernels().rms_norm.create("");
    kernel->load(on_device(random_tensor({8}, DType::f32, 7), *device), 1e-6f);
    const Tensor x = on_device(random_tensor({2, 16}, DType::f32, 8), *device);
    Tensor out = empty({2, 16}, DType::f32, *device);
    EXPECT_THROW(kernel->apply(x, out), Error) << device->name();
  }
}

}  // namespace
}  // namespace x2v
