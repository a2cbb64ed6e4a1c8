#pragma once
// Wan2.2 A14B's two experts behind the Denoiser interface: the high-noise DiT runs while the timestep is at
// or above boundary x 1000 (or, for the step-distilled model, while the step index is below
// boundary_step_index), the low-noise DiT after, each with its own guidance scale. Only one expert's weights
// are held at a time: the high-noise one is freed before the low-noise one loads, as LightX2V does with its
// experts offloaded.
#include <functional>
#include <memory>
#include <vector>

#include "io/config.h"
#include "pipeline/wan_sampling.h"

namespace x2v {

struct WanMoeOptions {
  double boundary = 0.875;           // of the 1000 training timesteps
  int64_t boundary_step_index = -1;  // >= 0: switch by step index instead (wan2.2_moe_distill)

  // boundary (in (0, 1)) and, for the step-distilled model (`by_step`, wan2.2_moe_distill),
  // boundary_step_index; errors name a value out of range.
  static WanMoeOptions from_config(const io::Config& config, bool by_step = false);
};

enum class WanExpert { high_noise, low_noise };

class WanMoeDenoiser : public Denoiser {
 public:
  // `load` makes an expert's DiT (called at most once per expert, the high-noise one first). The guidance is
  // `sampling.guide_scale` for the high-noise expert and `sampling.low_noise_guide_scale` (else the same) for
  // the low-noise one.
  using ExpertLoader = std::function<std::unique_ptr<WanDit>(WanExpert)>;
  // `cfg_group`: CFG parallel, as WanGuidedDenoiser takes it.
  WanMoeDenoiser(ExpertLoader load, const WanSamplingInputs& inputs, const WanSamplingOptions& sampling,
                 const WanMoeOptions& moe, Communicator* cfg_group = nullptr);
  ~WanMoeDenoiser() override;

  Tensor velocity(const Tensor& latents, double timestep, int step) override;
  // The expert each step ran.
  const std::vector<WanExpert>& experts_run() const { return experts_run_; }
  // The expert for a step, by the options' rule.
  WanExpert expert_for(double timestep, int step) const;

 private:
  ExpertLoader load_;
  WanSamplingInputs inputs_;
  WanSamplingOptions sampling_;
  WanMoeOptions moe_;
  Communicator* cfg_group_;
  std::unique_ptr<WanDit> model_;
  std::unique_ptr<WanGuidedDenoiser> denoiser_;
  std::optional<WanExpert> current_;
  std::vector<WanExpert> experts_run_;
};

}  // namespace x2v
