#pragma once
// The Wan2.1 runner, text to video and image to video: prompt -> umT5 (and, for i2v, the image -> CLIP
// features and the VAE-encoded first frame) -> DiT sampling loop -> VAE decode -> MP4, one stage at a time so
// each model is freed before the next is loaded (peak memory = the largest stage, not the sum). The stages
// are public so the stage commands (encode-text, sample, decode) run them alone.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/config.h"
#include "models/wan/vae.h"
#include "offload/offload_options.h"
#include "parallel/parallel_plan.h"
#include "pipeline/model_cache.h"
#include "pipeline/runner.h"
#include "pipeline/wan_cost.h"
#include "pipeline/wan_defaults.h"
#include "pipeline/wan_i2v.h"
#include "pipeline/wan_model_files.h"
#include "pipeline/wan_moe.h"
#include "platform/device.h"

namespace x2v {

struct WanTextContexts {
  Tensor context;       // [tokens, text_dim] f32 (EOS included, no padding)
  Tensor context_null;  // the negative prompt's; undefined when CFG is off
};

class WanRunner : public Runner {
 public:
  // Checks every setting (config values, DTYPE, kernel names and quant schemes on the devices that will
  // run them, sizes against memory) and finds every model file before any work starts.
  WanRunner(const std::string& model_path, io::Config config, Device& device,
            std::string model_cls = "wan2.1", std::string task = "t2v");

  const io::Config& config() const { return config_; }
  int64_t fps() const { return fps_; }
  const WanModelFiles& files() const { return files_; }
  const WanVideoShape& video_shape() const { return shape_; }
  bool cfg_enabled() const;

  // Throws Error for an empty prompt, a bad seed or an output path that cannot be written, and runs
  // check_dit_stage, before any work.
  void check_request(const GenerationRequest& request) const override;
  // What only the DiT stage needs: dit_quantized_ckpt and the LoRA files exist, the size fits the memory.
  void check_dit_stage() const;
  // The effective settings, one line each, with where each came from ([default], [config], [--seed]),
  // then the cost: tokens, DiT evaluations and the expected time at this machine's measured matmul rate.
  // Also returns, in `warnings`, a line when the run is expected to take more than an hour.
  std::vector<std::string> describe(const GenerationRequest& request,
                                    std::vector<std::string>* warnings) const override;

  // Each stage loads its model, runs, and frees it before returning.
  WanTextContexts encode_text(const std::string& prompt, const std::string& negative_prompt);
  // i2v: the image's features and latent (image [3, H, W] in [-1, 1], io::read_image); sets the video's
  // shape from the image's aspect ratio.
  WanImageConditioning encode_image(const Tensor& image);
  Tensor sample(const WanTextContexts& contexts, uint64_t seed, const WanImageConditioning* image = nullptr);
  // Streams the decoded frames ([3, n, H, W] f32 in [-1, 1]) to `sink` as they come.
  void decode(const Tensor& latents, const std::function<void(const Tensor&)>& sink);

  // All stages: writes save_result_path (and the PNG frames) only when complete. Under mpirun, every rank
  // runs the stages and rank 0 alone writes.
  void run(const GenerationRequest& request) override;
  // The ranks of a parallel run ("parallel" in the config; one rank without it).
  const ParallelGroups& parallel() const { return *parallel_; }
  // Keeps the umT5, DiT and VAE loaded in `cache` across runners (x2v serve); without it each stage loads its
  // model and frees it when the stage ends.
  void set_model_cache(std::shared_ptr<ModelCache> cache) { models_ = std::move(cache); }

  VideoSummary video() const override { return {shape_.frames, shape_.width, shape_.height, fps_}; }
  const std::vector<StageReport>& stage_reports() const override { return reports_; }

 private:
  // Runs `body` as the stage `name`, recording its time and allocator peak.
  void timed_stage(const std::string& name, const std::function<void()>& body);

  // The i2v video's size for `image`: LightX2V's (Wan2.1, A14B) or best_output_size (TI2V), within
  // target_shape_'s area.
  WanVideoShape image_video_shape(const Tensor& image) const;

  // "[config]" when the user's file set `key`, else "[default]".
  std::string origin(const std::string& key) const;

  io::Config config_;
  Device* device_;
  std::string model_cls_;
  std::string task_;
  bool ti2v_ = false;  // Wan2.2 TI2V-5B: its i2v holds the first latent frame rather than taking y and CLIP
  WanModelFiles files_;
  WanVideoShape shape_;
  WanVideoShape target_shape_;  // the config's size; i2v fits the image into its area
  WanDitConfig dit_config_;
  WanCost cost_;
  OffloadOptions offload_;
  WanMoeOptions moe_;  // wan2.2_moe
  WanVaeOptions vae_options_;
  int64_t text_len_ = 512;
  int64_t fps_ = 16;
  // A model from the cache (under a key naming everything it was loaded from and with), or loaded for this
  // stage alone.
  template <class Model>
  std::shared_ptr<Model> stage_model(const std::string& slot, const std::string& key,
                                     const std::function<std::unique_ptr<Model>()>& load) const {
    if (!models_) return std::shared_ptr<Model>(load());
    return models_->get<Model>(slot, key, load);
  }
  // The config as the models load it: without the keys a request may set (sizes, steps, seed).
  std::string load_key(const std::string& file) const;

  std::unique_ptr<ParallelGroups> parallel_;
  std::shared_ptr<ModelCache> models_;
  std::vector<std::string> parallel_warnings_;
  std::vector<StageReport> reports_;
};

class RunnerRegistry;
// Registers wan2.1, wan2.1_distill and wan2.2_moe (t2v, i2v).
void register_wan_runners(RunnerRegistry& registry);

}  // namespace x2v
