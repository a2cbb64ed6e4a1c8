#include "pipeline/wan_sampling.h"

#include "core/log.h"
#include "core/progress.h"
#include "platform/collectives.h"
#include "platform/ops.h"

namespace x2v {

WanSamplingOptions WanSamplingOptions::from_config(const io::Config& config) {
  WanSamplingOptions options;
  options.sampler.steps = static_cast<int>(config.get_int("infer_steps", 50));
  options.sampler.shift = config.get_double("sample_shift", 5.0);
  const auto guide = config.json().find("sample_guide_scale");
  if (guide != config.json().end() && guide->is_array()) {
    if (guide->size() != 2 || !(*guide)[0].is_number() || !(*guide)[1].is_number())
      throw Error("config",
                  concat("sample_guide_scale ", guide->dump(), " must be a number, or [high, low] for ",
                         "Wan2.2's two experts (in ", config.source(), ")"));
    options.guide_scale = (*guide)[0].get<double>();
    options.low_noise_guide_scale = (*guide)[1].get<double>();
  } else {
    options.guide_scale = config.get_double("sample_guide_scale", 5.0);
  }
  options.enable_cfg = config.get_bool("enable_cfg", true);
  for (int64_t step : config.get_int_list("denoising_step_list", {}))
    options.sampler.denoising_step_list.push_back(static_cast<int>(step));
  const bool distill_steps = !options.sampler.denoising_step_list.empty();
  const int64_t listed_steps = static_cast<int64_t>(options.sampler.denoising_step_list.size());
  if (distill_steps && config.set_by_user("infer_steps") && options.sampler.steps != listed_steps)
    log_once(
        LogLevel::warn, "config",
        concat("infer_steps ", options.sampler.steps, " is replaced by the ", listed_steps,
               " steps of denoising_step_list (as in LightX2V's distill runner); edit that list instead"));
  if (options.sampler.steps < 1 && !distill_steps)
    throw Error("config", concat("infer_steps ", options.sampler.steps, " must be at least 1 (in ",
                                 config.source(), ")"));
  options.sampler.solver = config.get_string("sample_solver", distill_steps ? "distill" : "unipc");
  const std::string& solver = options.sampler.solver;
  if (solver != "unipc" && solver != "euler" && solver != "distill")
    throw Error("config", concat("sample_solver '", solver, "' is not one of unipc, euler, distill"));
  if (options.sampler.solver == "distill" && !distill_steps)
    throw Error("config", "sample_solver 'distill' needs denoising_step_list, e.g. [1000, 750, 500, 250]");
  make_sampler(options.sampler);  // checks the schedule (step list values, shift) before any work
  options.caching = FeatureCacheOptions::from_config(config, options.step_count());
  return options;
}

int64_t WanSamplingOptions::step_count() const {
  return sampler.denoising_step_list.empty() ? sampler.steps
                                             : static_cast<int64_t>(sampler.denoising_step_list.size());
}

WanDitCheckpoint open_wan_dit_checkpoint(const std::string& path, const io::Config& config) {
  WanDitCheckpoint checkpoint = WanDitCheckpoint::open(path);
  checkpoint.merge_loras(lora_configs_from(config));
  return checkpoint;
}

namespace {

// cond + guidance: v = v_uncond + g * (v_cond - v_uncond), in place on `cond`.
void apply_guidance(Tensor& cond, const Tensor& uncond, double guide_scale) {
  float* c = cond.data<float>();
  const float* u = uncond.data<float>();
  const float g = static_cast<float>(guide_scale);
  for (int64_t i = 0; i < cond.numel(); ++i) c[i] = u[i] + g * (c[i] - u[i]);
}

}  // namespace

WanGuidedDenoiser::WanGuidedDenoiser(const WanDit& model, const WanSamplingInputs& inputs, bool enable_cfg,
                                     double guide_scale, const FeatureCacheOptions& caching,
                                     Communicator* cfg_group)
    : model_(model),
      cfg_group_(cfg_group != nullptr && cfg_group->size() > 1 ? cfg_group : nullptr),
      enable_cfg_(enable_cfg),
      guide_scale_(guide_scale),
      cond_cache_(FeatureCache::create(caching, true)),
      uncond_cache_(FeatureCache::create(caching, false)) {
  if (cfg_group_ != nullptr && (cfg_group_->size() != 2 || !enable_cfg))
    throw Error("sample", concat("CFG parallel runs the two guidance branches on 2 ranks; this group has ",
                                 cfg_group_->size(), enable_cfg ? "" : " and enable_cfg is false"));
  if (runs_unconditional() && !inputs.context_null.defined())
    throw Error("sample",
                "enable_cfg is true but there is no negative context (context_null); "
                "give one or set enable_cfg to false");
  if (runs_conditional() && !inputs.context.defined()) throw Error("sample", "there is no prompt context");
  inputs_.clip_features = inputs.clip_features;
  inputs_.y = inputs.y;
  if (inputs.first_frame_latent.defined()) inputs_.first_frame_timestep = 0.0;
  context_ = inputs.context;
  context_null_ = inputs.context_null;
  // The contexts' share of the DiT (text embedding, cross-attention keys and values) once, for every step.
  if (runs_conditional()) prepared_ = model.prepare_context(inputs.context, inputs.clip_features);
  if (runs_unconditional()) prepared_null_ = model.prepare_context(inputs.context_null, inputs.clip_features);
}

Tensor WanGuidedDenoiser::velocity(const Tensor& latents, double timestep, int step) {
  WanDitInputs step_inputs = inputs_;
  step_inputs.x = latents;
  step_inputs.timestep = timestep;
  const auto conditional = [&] {
    step_inputs.context = context_;
    if (cond_cache_) cond_cache_->begin_step(step);
    return model_.forward(step_inputs, &prepared_, cond_cache_.get());
  };
  const auto unconditional = [&] {
    step_inputs.context = context_null_;
    if (uncond_cache_) uncond_cache_->begin_step(step);
    return model_.forward(step_inputs, &prepared_null_, uncond_cache_.get());
  };
  if (cfg_group_ != nullptr) {
    // Each rank runs its branch; both get both velocities (rank order: conditional, unconditional).
    const Tensor mine = cfg_group_->rank() == 0 ? conditional() : unconditional();
    std::vector<Tensor> both = collectives::all_gather(*cfg_group_, mine, {mine.shape(), mine.shape()});
    Tensor velocity = both[0];  // a host buffer of its own
    apply_guidance(velocity, both[1], guide_scale_);
    return velocity;
  }
  Tensor velocity = conditional();
  if (enable_cfg_) apply_guidance(velocity, unconditional(), guide_scale_);
  return velocity;
}

void hold_first_frame(Tensor& latents, const Tensor& image_latent) {
  if (!image_latent.defined() || image_latent.ndim() != 4 || image_latent.size(0) != latents.size(0) ||
      image_latent.size(1) != 1 || image_latent.size(2) != latents.size(2) ||
      image_latent.size(3) != latents.size(3))
    throw Error("sample", concat("the first-frame latent is ", image_latent.describe(), "; expected [",
                                 latents.size(0), ", 1, ", latents.size(2), ", ", latents.size(3), "]"));
  Tensor first = latents.slice(1, 0, 1);
  ops::copy(image_latent.to_host(DType::f32), first);
}

Tensor sample_wan_latents(const WanDit& model, const WanSamplingInputs& inputs,
                          const WanSamplingOptions& options, Communicator* cfg_group) {
  if (!inputs.noise.defined() || inputs.noise.ndim() != 4)
    throw Error("sample", concat("noise is ", inputs.noise.describe(), "; expected [16, F, H, W]"));
  std::unique_ptr<Sampler> sampler = make_sampler(options.sampler);
  WanGuidedDenoiser denoiser(model, inputs, options.enable_cfg, options.guide_scale, options.caching,
                             cfg_group);
  std::function<void(Tensor&)> constrain;
  if (inputs.first_frame_latent.defined())
    constrain = [&](Tensor& latents) { hold_first_frame(latents, inputs.first_frame_latent); };
  Tensor latents = run_sampling(denoiser, *sampler, inputs.noise, "sample", constrain);
  if (const FeatureCache* cond = denoiser.cache(true)) {
    const FeatureCache* uncond = denoiser.cache(false);
    const int64_t evaluations =
        static_cast<int64_t>(cond->computed().size() + (options.enable_cfg ? uncond->computed().size() : 0));
    const int64_t skipped = cond->skipped() + (options.enable_cfg ? uncond->skipped() : 0);
    log_info(
        "sample", "feature caching ", options.caching.describe(), ": the blocks were skipped in ", skipped,
        " of ", evaluations, " DiT evaluations (conditional ", cond->skipped(), "/", cond->computed().size(),
        options.enable_cfg ? concat(", unconditional ", uncond->skipped(), "/", uncond->computed().size())
                           : "",
        ")");
  }
  return latents;
}

}  // namespace x2v
