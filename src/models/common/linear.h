#pragma once
// A linear layer y = x W^T + b running on a named mm kernel of the weight's device, with plain or
// quantized (LightX2V layout: int8/fp8 values and per-output-channel scales) weights.
#include <memory>
#include <string>

#include "platform/device.h"

namespace x2v {

class Linear {
 public:
  Linear() = default;
  // `weight` [out, in] and `bias` [out] (may be undefined) on `device`; `kernel_name` as in configs
  // ("" for the platform's default).
  void load(Device& device, const std::string& kernel_name, const Tensor& weight, const Tensor& bias);
  // Quantized weights for a kernel that takes them ("int8-vllm", "fp8-sgl", ...; see
  // quant/quant_kernels.h); a kernel of unquantized weights throws Error.
  void load_quantized(Device& device, const std::string& kernel_name, const QuantizedWeight& weight,
                      const Tensor& bias);
  bool loaded() const { return kernel_ != nullptr; }
  int64_t in_features() const { return kernel_->in_features(); }
  int64_t out_features() const { return kernel_->out_features(); }
  // y [..., out] of `dtype` on the layer's device.
  Tensor forward(const Tensor& x, DType dtype) const;
  void forward_into(const Tensor& x, Tensor& y) const;

 private:
  Device* device_ = nullptr;
  std::unique_ptr<MatmulKernel> kernel_;
};

}  // namespace x2v
