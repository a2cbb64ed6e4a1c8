#pragma once
// The denoising loop: the DiT's velocity (with classifier-free guidance when enabled) fed to a sampler
// from pure noise to clean latents.
#include <optional>

#include "io/config.h"
#include "models/wan/dit_model.h"
#include "pipeline/denoiser.h"
#include "pipeline/feature_cache.h"
#include "platform/communicator.h"
#include "schedulers/sampler.h"

namespace x2v {

struct WanSamplingOptions {
  SamplerOptions sampler;
  bool enable_cfg = true;
  double guide_scale = 5.0;
  // Wan2.2 A14B: sample_guide_scale given as [high, low], one per expert; guide_scale is then the high one.
  std::optional<double> low_noise_guide_scale;
  FeatureCacheOptions caching;  // feature_caching and its keys

  // LightX2V keys: infer_steps, sample_shift, sample_guide_scale, enable_cfg, denoising_step_list,
  // sample_solver ("unipc" default, "euler"; "distill" whenever denoising_step_list is given without one) and
  // feature_caching with its keys.
  static WanSamplingOptions from_config(const io::Config& config);
  // Sampling steps (the step list's length for step-distill) and DiT evaluations (twice with CFG).
  int64_t step_count() const;
  int64_t evaluations() const { return step_count() * (enable_cfg ? 2 : 1); }
};

struct WanSamplingInputs {
  Tensor noise;          // [16, F, H, W] f32
  Tensor context;        // [tokens, text_dim]
  Tensor context_null;   // needed when CFG is on
  Tensor clip_features;  // i2v
  Tensor y;              // i2v
  // Wan2.2 TI2V i2v: the image's latent [C, 1, h, w]: the first latent frame is held at it (before the first
  // step and after every step) and its tokens run at timestep 0.
  Tensor first_frame_latent;
};

// The DiT checkpoint at `path` with the config's lora_configs merged into it as it loads.
WanDitCheckpoint open_wan_dit_checkpoint(const std::string& path, const io::Config& config);

// The Wan2.1 DiT with classifier-free guidance: v = v_uncond + g * (v_cond - v_uncond). The contexts'
// cross-attention keys and values are computed once, at construction. With a two-rank `cfg_group` (CFG
// parallel), rank 0 of it runs only the conditional pass and needs only `context`, rank 1 only the
// unconditional one with `context_null`; the two velocities are exchanged and both ranks apply the guidance.
class WanGuidedDenoiser : public Denoiser {
 public:
  WanGuidedDenoiser(const WanDit& model, const WanSamplingInputs& inputs, bool enable_cfg, double guide_scale,
                    const FeatureCacheOptions& caching = {}, Communicator* cfg_group = nullptr);
  Tensor velocity(const Tensor& latents, double timestep, int step) override;
  // Feature caching's record (null without it): per branch, which evaluations ran the blocks.
  const FeatureCache* cache(bool conditional) const {
    return (conditional ? cond_cache_ : uncond_cache_).get();
  }

 private:
  // The branches this rank runs: both, or with CFG parallel its own.
  bool runs_conditional() const { return cfg_group_ == nullptr || cfg_group_->rank() == 0; }
  bool runs_unconditional() const {
    return enable_cfg_ && (cfg_group_ == nullptr || cfg_group_->rank() == 1);
  }

  const WanDit& model_;
  Communicator* cfg_group_;  // null unless CFG parallel
  bool enable_cfg_;
  double guide_scale_;
  WanDitInputs inputs_;  // the image conditioning (i2v); x, timestep and context per call
  Tensor context_, context_null_;
  WanDitPreparedContext prepared_, prepared_null_;
  std::unique_ptr<FeatureCache> cond_cache_, uncond_cache_;
};

// Holds the first latent frame of `latents` [C, F, h, w] at `image_latent` [C, 1, h, w] (TI2V i2v).
void hold_first_frame(Tensor& latents, const Tensor& image_latent);

// Returns the final latents [C, F, H, W] f32 (host). Progress per step on stderr.
Tensor sample_wan_latents(const WanDit& model, const WanSamplingInputs& inputs,
                          const WanSamplingOptions& options, Communicator* cfg_group = nullptr);

}  // namespace x2v
