#pragma once
// Sigma and timestep schedules for flow-matching samplers (x_t = (1 - s) x0 + s noise).
#include <cstdint>
#include <vector>

namespace x2v {

struct FlowSchedule {
  std::vector<double> sigmas;     // one per step plus a final 0
  std::vector<double> timesteps;  // one per step: what the model sees as t (0..1000)
  int steps() const { return static_cast<int>(timesteps.size()); }
};

// The official Wan schedule (FlowUniPCMultistepScheduler.set_timesteps): sigmas from linspace(sigma_max, 0,
// steps + 1)[:-1] with sigma_max = float32(0.999), shifted by s' = shift*s / (1 + (shift-1)*s), stored as
// float32; timesteps are int64-truncated sigma * 1000. Used by UniPC and Euler.
FlowSchedule wan_flow_schedule(int steps, double shift);

// LightX2V's step-distill schedule: for each step t in denoising_step_list, sigma = shifted
// linspace(1, 0, 1001)[1000 - t]; timesteps are the float sigma * 1000.
FlowSchedule step_distill_schedule(const std::vector<int>& denoising_step_list, double shift);

}  // namespace x2v
