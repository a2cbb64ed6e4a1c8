#pragma once
// Elementwise and small row-wise ops. Each op is a kernel registered by its op name in the platform's
// elementwise registry; model code calls the free functions in platform/ops.h, which dispatch on the
// tensor's device. All math is fp32; inputs and outputs may be f32, bf16 or f16.
#include <string>
#include <vector>

#include "core/tensor.h"

namespace x2v {

// The op names every platform provides (the conformance suite checks each against the reference).
//  copy            out = x (any strides, any dtype conversion)
//  add, mul        out = a + b, a * b   (b broadcast over leading dims: b's shape is a suffix of a's)
//  gelu_tanh       out = gelu(x) with the tanh approximation
//  gelu_erf        out = gelu(x) exact
//  silu            out = x * sigmoid(x)
//  modulate        out = x * (1 + scale) + shift      (inputs x, shift, scale; shift/scale broadcast)
//  gated_residual  out = residual + y * gate          (inputs residual, y, gate; gate broadcast)
//  softmax         out = softmax(x) over the last dim
//  scale           out = x * params[0] + params[1]
//  fill            out = params[0]                    (no inputs)
//  channel_l2_norm out = x / max(||x[:, i]||_2, eps) * sqrt(C) * gamma over dim 0 of [C, ...] (a
//                  channel-first RMS norm with the eps on the norm; params eps, silu flag)
//  clamp           out = min(max(x, params[0]), params[1])
inline const std::vector<std::string>& elementwise_op_names() {
  static const std::vector<std::string> names = {
      "copy",           "add",     "mul",   "gelu_tanh", "gelu_erf",        "silu", "modulate",
      "gated_residual", "softmax", "scale", "fill",      "channel_l2_norm", "clamp"};
  return names;
}

class ElementwiseKernel {
 public:
  virtual ~ElementwiseKernel() = default;
  virtual void load(const std::vector<float>& params) { params_ = params; }
  virtual void apply(const std::vector<Tensor>& inputs, Tensor& out) = 0;

 protected:
  std::vector<float> params_;
};

// Checks that `operand` broadcasts over `target` (its shape is a suffix of target's, contiguous).
void check_broadcast_operand(const char* op, const Tensor& target, const Tensor& operand);

}  // namespace x2v
