#pragma once
// Matmul-with-weight template: y = x W^T + b, W [out_features, in_features], x [..., in_features],
// y [..., out_features]. Weights are handed over once at load so a backend can pack or quantize them;
// apply then runs with fp32 accumulation whatever the storage dtype.
#include "core/tensor.h"

namespace x2v {

class MatmulKernel {
 public:
  virtual ~MatmulKernel() = default;
  // `bias` may be undefined. Kernels may keep references to (or copies of) the tensors.
  virtual void load(const Tensor& weight, const Tensor& bias) = 0;
  virtual void apply(const Tensor& x, Tensor& y) = 0;
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 protected:
  // Validates the weight/bias pair and records the feature counts.
  void check_weights(const Tensor& weight, const Tensor& bias);
  // Validates x and y against the loaded weight.
  void check_call(const Tensor& x, const Tensor& y) const;

  int64_t in_features_ = 0;
  int64_t out_features_ = 0;
};

}  // namespace x2v
