#pragma once
// What a kernel accepts, declared when it is registered, so selection asks the registry instead of
// building kernels to find out, and a plugin's kernel is never called with what it did not declare.
#include <algorithm>
#include <vector>

#include "platform/ops/mm.h"

namespace x2v {

struct KernelTraits {
  std::vector<DType> dtypes;              // activation dtypes; empty: f32, bf16 and f16
  QuantFormat quant = QuantFormat::none;  // mm: the weight format load_quantized takes
  bool bias = false;                      // attention: adds an additive logit bias
  bool host_fallback = false;             // runs the host's kernel through copies (see host_fallback.h)

  bool accepts(DType dtype) const {
    if (dtypes.empty()) return dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16;
    return std::find(dtypes.begin(), dtypes.end(), dtype) != dtypes.end();
  }
  static KernelTraits quantized(QuantFormat format) {
    KernelTraits traits;
    traits.quant = format;
    return traits;
  }
  static KernelTraits with_bias() {
    KernelTraits traits;
    traits.bias = true;
    return traits;
  }
};

}  // namespace x2v
