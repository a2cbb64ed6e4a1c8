#pragma once
// Normalization templates over the last dim, fp32 math whatever the storage dtype.
// rms_norm: y = x * rsqrt(mean(x^2) + eps) * weight   (weight optional)
// layer_norm: y = (x - mean) * rsqrt(var + eps) * weight + bias   (weight/bias optional: no affine)
#include "core/tensor.h"

namespace x2v {

class RmsNormKernel {
 public:
  virtual ~RmsNormKernel() = default;
  virtual void load(const Tensor& weight, float eps) {
    weight_ = weight;
    eps_ = eps;
  }
  virtual void apply(const Tensor& x, Tensor& out) = 0;

 protected:
  Tensor weight_;
  float eps_ = 1e-6f;
};

class LayerNormKernel {
 public:
  virtual ~LayerNormKernel() = default;
  virtual void load(const Tensor& weight, const Tensor& bias, float eps) {
    weight_ = weight;
    bias_ = bias;
    eps_ = eps;
  }
  virtual void apply(const Tensor& x, Tensor& out) = 0;
  // out = layer_norm(x) * (1 + scale) + shift, scale and shift of [dim] broadcast over the rows (the DiT's
  // adaLN modulation), the norm kept in f32 until out's dtype. By default the norm into an f32 buffer, then
  // the elementwise "modulate" op; a backend fuses them to save the f32 buffer's pass over memory.
  virtual void apply_modulated(const Tensor& x, const Tensor& shift, const Tensor& scale, Tensor& out);

 protected:
  Tensor weight_;
  Tensor bias_;
  float eps_ = 1e-6f;
};

// Shape/dtype validation shared by all norm kernels.
void check_norm_arguments(const char* place, const Tensor& x, const Tensor& out, const Tensor& weight,
                          const Tensor& bias);

}  // namespace x2v
