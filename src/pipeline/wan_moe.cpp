#include "pipeline/wan_moe.h"

#include "core/error.h"
#include "core/log.h"
#include "core/text.h"

namespace x2v {

WanMoeOptions WanMoeOptions::from_config(const io::Config& config, bool by_step) {
  WanMoeOptions options;
  options.boundary = config.get_double("boundary", options.boundary);
  if (!(options.boundary > 0.0 && options.boundary < 1.0))
    throw Error("config", concat("boundary ", options.boundary,
                                 " is outside (0, 1): it is the share of the 1000 timesteps where the "
                                 "low-noise expert takes over (0.875 t2v, 0.900 i2v) (in ",
                                 config.source(), ")"));
  const int64_t step_index = config.get_int("boundary_step_index", -1);
  if (config.has("boundary_step_index") && step_index < 0)
    throw Error("config", concat("boundary_step_index ", step_index,
                                 " must be 0 or more (the first step of the low-noise expert)"));
  if (by_step) {
    if (step_index < 0)
      throw Error("config",
                  concat("wan2.2_moe_distill switches experts at boundary_step_index; set it (LightX2V: 2) ",
                         "in ", config.source()));
    options.boundary_step_index = step_index;
  } else if (step_index >= 0) {
    log_once(LogLevel::warn, "config",
             concat("boundary_step_index is for wan2.2_moe_distill; wan2.2_moe switches at boundary ",
                    options.boundary, ", as in LightX2V"));
  }
  return options;
}

WanMoeDenoiser::WanMoeDenoiser(ExpertLoader load, const WanSamplingInputs& inputs,
                               const WanSamplingOptions& sampling, const WanMoeOptions& moe,
                               Communicator* cfg_group)
    : load_(std::move(load)), inputs_(inputs), sampling_(sampling), moe_(moe), cfg_group_(cfg_group) {}

WanMoeDenoiser::~WanMoeDenoiser() = default;

WanExpert WanMoeDenoiser::expert_for(double timestep, int step) const {
  const bool high =
      moe_.boundary_step_index >= 0 ? step < moe_.boundary_step_index : timestep >= moe_.boundary * 1000.0;
  return high ? WanExpert::high_noise : WanExpert::low_noise;
}

Tensor WanMoeDenoiser::velocity(const Tensor& latents, double timestep, int step) {
  const WanExpert expert = expert_for(timestep, step);
  if (!current_ || *current_ != expert) {
    // The previous expert goes first: one expert's weights at a time.
    denoiser_.reset();
    model_.reset();
    const bool high = expert == WanExpert::high_noise;
    log_info("sample", "step ", step + 1, " (timestep ", timestep, "): the ", high ? "high" : "low",
             "-noise expert");
    model_ = load_(expert);
    const double guide =
        high ? sampling_.guide_scale : sampling_.low_noise_guide_scale.value_or(sampling_.guide_scale);
    denoiser_ = std::make_unique<WanGuidedDenoiser>(*model_, inputs_, sampling_.enable_cfg, guide,
                                                    sampling_.caching, cfg_group_);
    current_ = expert;
  }
  experts_run_.push_back(expert);
  return denoiser_->velocity(latents, timestep, step);
}

}  // namespace x2v
