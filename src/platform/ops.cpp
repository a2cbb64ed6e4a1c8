#include "platform/ops.h"

#include "platform/platform.h"

namespace x2v::ops {
namespace {

void run(const char* op, const std::vector<Tensor>& inputs, Tensor& out,
         const std::vector<float>& params = {}) {
  Device& device = device_of(out);
  for (const Tensor& input : inputs) {
    if (&device_of(input) != &device)
      throw Error(op, concat("inputs live on '", device_of(input).device_string(), "' but the output on '",
                             device.device_string(), "'; move them to one device first"));
  }
  ElementwiseKernel& kernel = device.kernels().elementwise.shared(op);
  if (params.empty()) {
    kernel.apply(inputs, out);
    return;
  }
  // Kernels with parameters are not shared: the parameters travel with the instance.
  std::unique_ptr<ElementwiseKernel> instance = device.kernels().elementwise.create(op);
  instance->load(params);
  instance->apply(inputs, out);
}

}  // namespace

void copy(const Tensor& x, Tensor& out) {
  run("copy", {x}, out);
}

Tensor cast(const Tensor& x, DType dtype) {
  Tensor out = empty_like(x, dtype);
  copy(x, out);
  return out;
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  return cast(x, x.dtype());
}

Tensor to_device(const Tensor& x, Device& target) {
  Device& source = device_of(x);
  if (&source == &target) return contiguous(x);
  Tensor packed = contiguous(x);
  Tensor out = empty(x.shape(), x.dtype(), target);
  if (source.host_accessible()) {
    target.copy(packed.raw_data(), out.raw_data(), packed.nbytes(), CopyKind::host_to_device);
  } else if (target.host_accessible()) {
    source.copy(packed.raw_data(), out.raw_data(), packed.nbytes(), CopyKind::device_to_host);
  } else {
    Tensor staging = to_device(packed, host_device());
    return to_device(staging, target);
  }
  return out;
}

void add(const Tensor& a, const Tensor& b, Tensor& out) {
  run("add", {a, b}, out);
}
void mul(const Tensor& a, const Tensor& b, Tensor& out) {
  run("mul", {a, b}, out);
}
void gelu(const Tensor& x, Tensor& out, bool tanh_approximation) {
  run(tanh_approximation ? "gelu_tanh" : "gelu_erf", {x}, out);
}
void silu(const Tensor& x, Tensor& out) {
  run("silu", {x}, out);
}
void modulate(const Tensor& x, const Tensor& shift, const Tensor& scale, Tensor& out) {
  run("modulate", {x, shift, scale}, out);
}
void gated_residual(const Tensor& residual, const Tensor& y, const Tensor& gate, Tensor& out) {
  run("gated_residual", {residual, y, gate}, out);
}
void softmax(const Tensor& x, Tensor& out) {
  run("softmax", {x}, out);
}
void scale(const Tensor& x, float multiplier, float offset, Tensor& out) {
  run("scale", {x}, out, {multiplier, offset});
}

void fill(Tensor& out, float value) {
  run("fill", {}, out, {value});
}

void channel_l2_norm(const Tensor& x, const Tensor& gamma, Tensor& out, bool silu, float eps) {
  run("channel_l2_norm", {x, gamma}, out, {eps, silu ? 1.0f : 0.0f});
}

void clamp(const Tensor& x, float low, float high, Tensor& out) {
  run("clamp", {x}, out, {low, high});
}

}  // namespace x2v::ops
