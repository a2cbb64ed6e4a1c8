#include "pipeline/denoiser.h"

#include "core/progress.h"

namespace x2v {

Tensor run_sampling(Denoiser& denoiser, Sampler& sampler, const Tensor& noise, const std::string& label,
                    const std::function<void(Tensor&)>& constrain) {
  Tensor latents = noise.to_host(DType::f32);
  if (constrain) constrain(latents);
  Progress progress(label, sampler.steps());
  for (int step = 0; step < sampler.steps(); ++step) {
    const Tensor velocity = denoiser.velocity(latents, sampler.timestep(step), step);
    sampler.step(step, velocity, latents);
    if (constrain) constrain(latents);
    progress.update(step + 1);
  }
  return latents;
}

}  // namespace x2v
