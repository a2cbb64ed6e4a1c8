#include "models/common/linear.h"

namespace x2v {

void Linear::load(Device& device, const std::string& kernel_name, const Tensor& weight, const Tensor& bias) {
  device_ = &device;
  kernel_ = device.kernels().mm.create(kernel_name);
  kernel_->load(weight, bias);
}

void Linear::load_quantized(Device& device, const std::string& kernel_name, const QuantizedWeight& weight,
                            const Tensor& bias) {
  device_ = &device;
  kernel_ = device.kernels().mm.create(kernel_name);
  kernel_->load_quantized(weight, bias);
}

Tensor Linear::forward(const Tensor& x, DType dtype) const {
  Shape shape = x.shape();
  shape.back() = out_features();
  Tensor y = empty(shape, dtype, *device_);
  forward_into(x, y);
  return y;
}

void Linear::forward_into(const Tensor& x, Tensor& y) const {
  if (!kernel_) throw InternalError("linear", "forward before load");
  kernel_->apply(x, y);
}

}  // namespace x2v
