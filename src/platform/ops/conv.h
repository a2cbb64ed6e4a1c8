#pragma once
// Convolution template, 2-D or 3-D, with per-side padding (the causal convs of the VAE pad time
// asymmetrically). x [N, C_in, (D,) H, W] or without N; weight [C_out, C_in, (kD,) kH, kW]; bias optional.
#include <vector>

#include "core/tensor.h"

namespace x2v {

struct ConvOptions {
  int spatial_dims = 3;            // 2 or 3
  std::vector<int64_t> stride;     // per spatial dim; empty: 1
  std::vector<int64_t> pad_begin;  // per spatial dim; empty: 0
  std::vector<int64_t> pad_end;    // per spatial dim; empty: 0
  std::vector<int64_t> dilation;   // per spatial dim; empty: 1
};

class ConvKernel {
 public:
  virtual ~ConvKernel() = default;
  virtual void load(const Tensor& weight, const Tensor& bias, const ConvOptions& options) = 0;
  virtual void apply(const Tensor& x, Tensor& out) = 0;
  // Output shape for an input shape (same batch convention as the input).
  Shape output_shape(const Shape& input_shape) const;

 protected:
  // Validates and records weight, bias and options (fills defaults).
  void check_and_store(const Tensor& weight, const Tensor& bias, const ConvOptions& options);

  // A backend that keeps its own packed copy may release weight_ and bias_; the shape stays.
  Tensor weight_;
  Tensor bias_;
  Shape weight_shape_;
  ConvOptions options_;
};

}  // namespace x2v
