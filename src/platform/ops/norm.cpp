// The norm kernels' shared default: LayerNorm followed by the adaLN modulation as two ops.
#include "platform/ops/norm.h"

#include "platform/device.h"
#include "platform/ops.h"

namespace x2v {

void LayerNormKernel::apply_modulated(const Tensor& x, const Tensor& shift, const Tensor& scale,
                                      Tensor& out) {
  Tensor normed = empty(x.shape(), DType::f32, *out.device());
  apply(x, normed);
  ops::modulate(normed, shift, scale, out);
}

}  // namespace x2v
