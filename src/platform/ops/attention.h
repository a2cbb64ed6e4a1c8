#pragma once
// Attention template: out = softmax(q k^T * scale + bias) v per head, exact (no approximation).
// Layout: q [heads, q_len, head_dim], k/v [heads, kv_len, head_dim], out [heads, q_len, head_dim];
// an optional leading batch dim is allowed on all four. Only the last dim must be unit-stride, so
// q/k/v may be views of token-major [len, heads*head_dim] buffers without a copy.
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace x2v {

struct AttentionOptions {
  float scale = 0.0f;                // 0: 1/sqrt(head_dim); any other value as is (T5 uses 1)
  std::vector<int64_t> key_lengths;  // per batch entry: keys at or past this index are masked; empty: all
  // Optional additive bias on the scaled logits: f32 [heads, q_len, kv_len], contiguous, finite, the same
  // for every batch entry (T5's relative position bias). It belongs to one call's lengths, so a model
  // sets it with load() right before that apply(). Masked keys stay masked whatever their bias.
  Tensor bias;
};

class AttentionKernel {
 public:
  virtual ~AttentionKernel() = default;
  // Attention has no weights; load receives the options (fixed for the layer, except a bias, which is
  // fixed per call). A kernel that cannot add a bias refuses one here rather than ignore it.
  virtual void load(const AttentionOptions& options) {
    if (options.bias.defined() && !supports_bias())
      throw Error("attention",
                  "this attention kernel cannot add a logit bias (T5's position bias); "
                  "choose one that can (on cpu: 'torch' or 'cpu_flash_attn')");
    options_ = options;
  }
  // True for kernels whose apply() adds options().bias.
  virtual bool supports_bias() const { return false; }
  virtual void apply(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out) = 0;
  const AttentionOptions& options() const { return options_; }

 protected:
  AttentionOptions options_;
};

// Checks shapes, dtypes and strides of an attention call; throws Error naming the problem.
void check_attention_arguments(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                               const AttentionOptions& options);

}  // namespace x2v
