#pragma once
// LightX2V's precision environment: DTYPE (BF16 default, FP16, FP32) is the compute dtype of matmuls and
// attention; SENSITIVE_LAYER_DTYPE (unset: same as DTYPE; FP32 to keep them in f32) is the dtype of the
// residual stream, norms, embeddings, modulation and time layers.
#include "core/dtype.h"

namespace x2v {

struct Precision {
  DType compute = DType::bf16;
  DType sensitive = DType::bf16;

  // Reads DTYPE and SENSITIVE_LAYER_DTYPE; throws Error naming a value that is not BF16, FP16 or FP32.
  static Precision from_environment();
};

}  // namespace x2v
