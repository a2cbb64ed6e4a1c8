#pragma once
// One Wan2.1 DiT block: modulated self-attention with 3D RoPE, cross-attention on the text (and image)
// context, and a modulated GELU feed-forward, each added to the residual stream.
#include <memory>

#include "models/common/linear.h"
#include "models/common/precision.h"
#include "parallel/sequence_parallel.h"
#include "models/wan/dit_kernels.h"
#include "models/wan/dit_weights.h"
#include "models/wan/rope_tables.h"
#include "offload/unit_stream.h"

namespace x2v {

// One block's cross-attention keys and values of a text (and image) context: they depend on the context
// alone, so a sampling loop computes them once per context instead of once per step.
struct WanCrossContext {
  Tensor keys, values;              // [text tokens, dim], precision.compute
  Tensor image_keys, image_values;  // i2v: [257, dim]; else undefined
};

// The parts of a block, as offload streams them: LightX2V's three phases (self-attention with the
// modulation, cross-attention, FFN), with the cross-attention's key and value projections apart, since
// they run once per context (prepare_context), not in every step.
enum WanBlockParts : unsigned {
  kWanSelfAttention = 1,
  kWanCrossAttention = 2,  // norm3, q, norm_q, o and the attention itself
  kWanCrossContext = 4,    // k, v, norm_k (and the image's): WanBlock::cross_context
  kWanFeedForward = 8,
  kWanStepParts = kWanSelfAttention | kWanCrossAttention | kWanFeedForward,
  kWanAllParts = kWanStepParts | kWanCrossContext,
};

// A step's time conditioning: e0 [6, dim] f32 (the time projection) for every token, or, with `first_tokens`
// set (Wan2.2 TI2V i2v, whose first latent frame is the given image), `first_e0` for the first `first_tokens`
// tokens (that frame, at its own timestep) and e0 for the rest.
struct WanTimeConditioning {
  Tensor e0;
  Tensor first_e0;
  int64_t first_tokens = 0;
};

class WanBlock : public OffloadUnit {
 public:
  // Block `index` of a `config` model, its weights read from `checkpoint` (which may be a quantized export
  // holding no config.json: the architecture comes from `config`).
  void load(const WanDitConfig& config, const WanDitCheckpoint& checkpoint, int index,
            const WanDitKernels& kernels, Precision precision, Device& device);
  // The weights of `parts` of block `index` as host tensors, named within the block ("self_attn.q.weight"),
  // in the dtypes (and quantized layouts) `device`'s kernels take. Safe to call from any thread.
  static WeightSet read_weights(const WanDitConfig& config, const WanDitCheckpoint& checkpoint, int index,
                                const WanDitKernels& kernels, Precision precision, Device& device,
                                unsigned parts);
  // Builds `parts` from `weights` (read_weights' names, on `device`); kernels keep references to them.
  void build(const WanDitConfig& config, const WeightSet& weights, const WanDitKernels& kernels,
             Precision precision, Device& device, unsigned parts);

  // x [tokens, dim] (residual, precision.sensitive) is updated in place. `time`: the step's e0; context
  // [text_len, dim] and image_context [257, dim] (i2v only, else undefined) in precision.compute.
  // `rope`: the tables of the tokens' grid (wan_rope_tables). Needs kWanStepParts. With an active `shard`
  // (sequence parallel), x, time and rope hold this rank's share of the tokens.
  void forward(Tensor& x, const WanTimeConditioning& time, const WanCrossContext& cross,
               const RopeTables& rope, const SequenceShard& shard = {}) const {
    self_attention(x, time, rope, shard);
    cross_attention(x, cross);
    feed_forward(x, time);
  }
  // forward's three phases, in that order; each needs its part.
  void self_attention(Tensor& x, const WanTimeConditioning& time, const RopeTables& rope,
                      const SequenceShard& shard = {}) const;
  void cross_attention(Tensor& x, const WanCrossContext& cross) const;
  void feed_forward(Tensor& x, const WanTimeConditioning& time) const;
  // The cross-attention keys and values of an embedded context (see WanDit::prepare_context). Needs
  // kWanCrossContext.
  WanCrossContext cross_context(const Tensor& context, const Tensor& image_context) const;

 private:
  // [tokens, dim] -> [heads, tokens, head_dim] view (no copy).
  Tensor heads_view(const Tensor& tokens) const;
  Tensor project_and_norm(const Linear& linear, RmsNormKernel* norm, const Tensor& input) const;
  // modulation + e0 [6, dim]: (shift, scale, gate) of self-attention, then of the FFN.
  Tensor modulation(const Tensor& e0) const;
  // norm(x) * (1 + scale) + shift in precision.compute, shift and scale rows shift_row and shift_row + 1 of
  // the modulation (the first tokens' own with time.first_tokens).
  Tensor modulated_norm(const Tensor& x, LayerNormKernel& norm, const Tensor& modulation,
                        const Tensor& first_modulation, int64_t first_tokens, int shift_row) const;
  // x += y * gate, gate row `row` of the modulation (the first tokens' own with first_tokens).
  void gated_residual(Tensor& x, const Tensor& y, const Tensor& modulation, const Tensor& first_modulation,
                      int64_t first_tokens, int row) const;

  Device* device_ = nullptr;
  Precision precision_;
  int64_t dim_ = 0, heads_ = 0;
  bool image_branch_ = false;
  Tensor modulation_;  // [6, dim] f32
  std::unique_ptr<LayerNormKernel> norm1_, norm2_, norm3_;
  Linear self_q_, self_k_, self_v_, self_o_;
  std::unique_ptr<RmsNormKernel> self_norm_q_, self_norm_k_;
  Linear cross_q_, cross_k_, cross_v_, cross_o_, cross_k_image_, cross_v_image_;
  std::unique_ptr<RmsNormKernel> cross_norm_q_, cross_norm_k_, cross_norm_k_image_;
  Linear ffn_up_, ffn_down_;
  std::unique_ptr<RopeKernel> rope_;
  std::unique_ptr<AttentionKernel> self_attention_, cross_attention_, image_cross_attention_;
};

}  // namespace x2v
