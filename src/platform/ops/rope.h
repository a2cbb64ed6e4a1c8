#pragma once
// Rotary position embedding with tables the model builds. x [tokens, heads, head_dim]; the head_dim/2 pairs
// are interleaved (dims 2j, 2j+1 form pair j). Token t's pair j is rotated by the angle whose cosine and
// sine are cos[t, j] and sin[t, j]. The model decides the angles (Wan's 3-D frame/height/width split,
// another family's fractional positions), so one kernel serves every model.
#include "core/tensor.h"

namespace x2v {

// cos and sin: f32 [tokens, head_dim / 2], contiguous, on the device of the tensors they rotate.
struct RopeTables {
  Tensor cos, sin;
};

class RopeKernel {
 public:
  virtual ~RopeKernel() = default;
  // out may be x itself (in place).
  virtual void apply(const Tensor& x, const RopeTables& tables, Tensor& out) = 0;
};

void check_rope_arguments(const Tensor& x, const RopeTables& tables, const Tensor& out);

}  // namespace x2v
