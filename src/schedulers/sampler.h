#pragma once
// Samplers advance the latents from one noise level to the next given the model's velocity prediction
// v ~ noise - x0. They are host logic over f32 host tensors (latents are small next to the model).
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "schedulers/schedule.h"

namespace x2v {

class Sampler {
 public:
  explicit Sampler(FlowSchedule schedule) : schedule_(std::move(schedule)) {}
  virtual ~Sampler() = default;
  int steps() const { return schedule_.steps(); }
  // The model's t at step i (0..1000 scale).
  double timestep(int step) const { return schedule_.timesteps.at(step); }
  double sigma(int step) const { return schedule_.sigmas.at(step); }
  const FlowSchedule& schedule() const { return schedule_; }
  // Replaces `latents` (host f32, contiguous) with the latents for step + 1 given the velocity at `step`.
  // Steps must be taken in order 0, 1, ..., steps() - 1.
  virtual void step(int step, const Tensor& velocity, Tensor& latents) = 0;

 protected:
  void check_step(int step, const Tensor& velocity, const Tensor& latents) const;
  FlowSchedule schedule_;
};

struct SamplerOptions {
  std::string solver = "unipc";  // "unipc", "euler", "distill"
  int steps = 50;
  double shift = 5.0;
  std::vector<int> denoising_step_list;  // distill
};

// Throws Error listing the solvers for an unknown name.
std::unique_ptr<Sampler> make_sampler(const SamplerOptions& options);

}  // namespace x2v
