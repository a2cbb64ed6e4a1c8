#pragma once
// Attention template: out = softmax(q k^T * scale) v per head, exact (no approximation).
// Layout: q [heads, q_len, head_dim], k/v [heads, kv_len, head_dim], out [heads, q_len, head_dim];
// an optional leading batch dim is allowed on all four. Only the last dim must be unit-stride, so
// q/k/v may be views of token-major [len, heads*head_dim] buffers without a copy.
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace x2v {

struct AttentionOptions {
  float scale = 0.0f;                // 0: 1/sqrt(head_dim)
  std::vector<int64_t> key_lengths;  // per batch entry: keys at or past this index are masked; empty: all
};

class AttentionKernel {
 public:
  virtual ~AttentionKernel() = default;
  // Attention has no weights; load receives the options that stay fixed for the layer.
  virtual void load(const AttentionOptions& options) { options_ = options; }
  virtual void apply(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out) = 0;
  const AttentionOptions& options() const { return options_; }

 protected:
  AttentionOptions options_;
};

// Checks shapes, dtypes and strides of an attention call; throws Error naming the problem.
void check_attention_arguments(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                               const AttentionOptions& options);

}  // namespace x2v
