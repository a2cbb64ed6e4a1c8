#pragma once
// The op functions model code calls. Each dispatches to the kernel registered under the op's name on
// the device the tensors live on, so model code never names a backend.
#include "platform/device.h"

namespace x2v::ops {

// out = x, converting dtype and gathering strides; x and out on the same device.
void copy(const Tensor& x, Tensor& out);
// A contiguous copy of x in `dtype` on x's device.
Tensor cast(const Tensor& x, DType dtype);
// Contiguous x (x itself when already contiguous).
Tensor contiguous(const Tensor& x);
// Copies x to `target` (any pair of devices); contiguous result.
Tensor to_device(const Tensor& x, Device& target);

void add(const Tensor& a, const Tensor& b, Tensor& out);
void mul(const Tensor& a, const Tensor& b, Tensor& out);
void gelu(const Tensor& x, Tensor& out, bool tanh_approximation);
void silu(const Tensor& x, Tensor& out);
void modulate(const Tensor& x, const Tensor& shift, const Tensor& scale, Tensor& out);
void gated_residual(const Tensor& residual, const Tensor& y, const Tensor& gate, Tensor& out);
void softmax(const Tensor& x, Tensor& out);
// out = x * multiplier + offset
void scale(const Tensor& x, float multiplier, float offset, Tensor& out);
// out = value everywhere
void fill(Tensor& out, float value);
// Channel-first L2 norm: x [C, ...] (channels in dim 0), gamma with C elements;
// out[c, i] = x[c, i] / max(||x[:, i]||_2, eps) * sqrt(C) * gamma[c]  (F.normalize over dim 0), then SiLU
// when `silu` (convolutional decoders follow most norms by SiLU; fusing saves a pass). `out` may have any
// channel stride (a slice of a larger time window) as long as each channel's elements are contiguous.
void channel_l2_norm(const Tensor& x, const Tensor& gamma, Tensor& out, bool silu = false,
                     float eps = 1e-12f);
// out = min(max(x, low), high)
void clamp(const Tensor& x, float low, float high, Tensor& out);

}  // namespace x2v::ops
