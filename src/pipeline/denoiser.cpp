#include "pipeline/denoiser.h"

#include <cstdlib>
#include <string>

#include "core/progress.h"
#include "platform/communicator.h"

namespace x2v {
namespace {

// X2V_FAIL_AT_STEP="RANK:STEP": that rank throws at that step. The parallel tests end a job mid-run with it
// to show that one rank's error ends every rank.
void injected_failure(int step) {
  const char* setting = std::getenv("X2V_FAIL_AT_STEP");
  if (setting == nullptr || *setting == '\0') return;
  const std::string text = setting;
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return;
  if (std::atoi(text.c_str()) == launched_world_rank() && std::atoi(text.c_str() + colon + 1) == step)
    throw Error("sample", concat("failure injected at step ", step, " by X2V_FAIL_AT_STEP=", text));
}

}  // namespace

Tensor run_sampling(Denoiser& denoiser, Sampler& sampler, const Tensor& noise, const std::string& label,
                    const std::function<void(Tensor&)>& constrain) {
  Tensor latents = noise.to_host(DType::f32);
  if (constrain) constrain(latents);
  Progress progress(label, sampler.steps());
  for (int step = 0; step < sampler.steps(); ++step) {
    injected_failure(step);
    const Tensor velocity = denoiser.velocity(latents, sampler.timestep(step), step);
    sampler.step(step, velocity, latents);
    if (constrain) constrain(latents);
    progress.update(step + 1);
  }
  return latents;
}

}  // namespace x2v
