#pragma once
// The model call a sampling loop makes: the velocity at some latents and timestep for one request's
// conditioning. Classifier-free guidance, Wan2.2's two experts (one per noise range) and CFG-parallel live
// behind this interface, so the loop and the samplers stay as they are for them.
#include <functional>
#include <string>

#include "core/tensor.h"
#include "schedulers/sampler.h"

namespace x2v {

class Denoiser {
 public:
  virtual ~Denoiser() = default;
  // The velocity [C, F, H, W] f32 on the host for `latents` (host f32) at `timestep` (0..1000 scale);
  // `step` is the sampler's step index (an expert switch may key on either).
  virtual Tensor velocity(const Tensor& latents, double timestep, int step) = 0;
};

// Runs `sampler` from `noise` to clean latents with `denoiser`'s velocities, with progress per step on
// stderr under `label`. `constrain`, when given, edits the latents before the first step and after every step
// (Wan2.2 TI2V i2v keeps its first frame at the image's latent). Returns host f32 latents.
Tensor run_sampling(Denoiser& denoiser, Sampler& sampler, const Tensor& noise, const std::string& label,
                    const std::function<void(Tensor&)>& constrain = {});

}  // namespace x2v
