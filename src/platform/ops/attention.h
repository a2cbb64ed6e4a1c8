#pragma once
// Attention template: out = softmax(q k^T * scale + bias) v per head, exact (no approximation).
// Layout: q [heads, q_len, head_dim], k/v [heads, kv_len, head_dim], out [heads, q_len, head_dim];
// an optional leading batch dim is allowed on all four. Only the last dim must be unit-stride, so
// q/k/v may be views of token-major [len, heads*head_dim] buffers without a copy.
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace x2v {

// Fixed for a layer, given once at load.
struct AttentionOptions {
  float scale = 0.0f;  // 0: 1/sqrt(head_dim); any other value as is (T5 uses 1)
};

// What changes from call to call. A loaded kernel keeps none of it, so one kernel serves any number of
// requests (and several threads, for kernels that say so) without reloading.
struct AttentionCall {
  std::vector<int64_t> key_lengths;  // per batch entry: keys at or past this index are masked; empty: all
  // Optional additive bias on the scaled logits: f32 [heads, q_len, kv_len], contiguous, finite, the same
  // for every batch entry (T5's relative position bias). Masked keys stay masked whatever their bias.
  Tensor bias;
};

class AttentionKernel {
 public:
  virtual ~AttentionKernel() = default;
  // Attention has no weights; load receives the layer's fixed options.
  virtual void load(const AttentionOptions& options) { options_ = options; }
  // True for kernels that add AttentionCall::bias.
  virtual bool supports_bias() const { return false; }
  // A kernel that cannot add a bias refuses one rather than ignore it.
  void apply(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out, const AttentionCall& call = {}) {
    if (call.bias.defined() && !supports_bias())
      throw Error("attention",
                  "this attention kernel cannot add a logit bias (T5's position bias); "
                  "choose one whose traits say it can (x2v platforms)");
    run(q, k, v, out, call);
  }
  const AttentionOptions& options() const { return options_; }

 protected:
  virtual void run(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
                   const AttentionCall& call) = 0;

  AttentionOptions options_;
};

// Checks shapes, dtypes and strides of an attention call; throws Error naming the problem.
void check_attention_arguments(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                               const AttentionCall& call);

}  // namespace x2v
