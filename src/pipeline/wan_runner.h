#pragma once
// The Wan2.1 text-to-video runner: prompt -> umT5 -> DiT sampling loop -> VAE decode -> MP4, one stage
// at a time so each model is freed before the next is loaded (peak memory = the largest stage, not the
// sum). The stages are public so the stage commands (encode-text, sample, decode) run them alone.
#include <functional>
#include <string>
#include <vector>

#include "io/config.h"
#include "pipeline/wan_defaults.h"
#include "pipeline/wan_model_files.h"
#include "platform/device.h"

namespace x2v {

// The model classes and tasks this runner serves; anything else is an Error listing these.
void check_wan_model_class(const std::string& model_cls, const std::string& task);
// LightX2V's defaults for `model_cls`/`task` (wan2.1_distill adds its 4 steps and no CFG) with the user's
// config file merged over them.
io::Config load_wan_run_config(const std::string& model_cls, const std::string& task,
                               const std::string& config_path);

struct WanTextContexts {
  Tensor context;       // [tokens, text_dim] f32 (EOS included, no padding)
  Tensor context_null;  // the negative prompt's; undefined when CFG is off
};

struct WanRequest {
  std::string prompt;
  std::string negative_prompt;  // empty: config sample_neg_prompt, else the official default
  int64_t seed = -1;            // < 0: the config's seed
  std::string save_result_path;
  std::string save_frames_dir;  // optional: PNG frames as well
};

struct WanStageReport {
  std::string stage;
  double seconds = 0;
  size_t allocator_peak_bytes = 0;  // the device allocator's peak during the stage
};

class WanT2VRunner {
 public:
  // Checks the config (video shape, keys) and finds every model file before any work starts.
  WanT2VRunner(const std::string& model_path, io::Config config, Device& device);

  const io::Config& config() const { return config_; }
  const WanModelFiles& files() const { return files_; }
  const WanVideoShape& video_shape() const { return shape_; }
  bool cfg_enabled() const;

  // Throws Error for an empty prompt or an output path that cannot be written, before any work.
  void check_request(const WanRequest& request) const;

  // Each stage loads its model, runs, and frees it before returning.
  WanTextContexts encode_text(const std::string& prompt, const std::string& negative_prompt);
  Tensor sample(const WanTextContexts& contexts, int64_t seed);
  // Streams the decoded frames ([3, n, H, W] f32 in [-1, 1]) to `sink` as they come.
  void decode(const Tensor& latents, const std::function<void(const Tensor&)>& sink);

  // All stages: writes save_result_path (and the PNG frames) only when complete.
  void run(const WanRequest& request);

  const std::vector<WanStageReport>& stage_reports() const { return reports_; }

 private:
  // Runs `body` as the stage `name`, recording its time and allocator peak.
  void timed_stage(const std::string& name, const std::function<void()>& body);

  io::Config config_;
  Device* device_;
  WanModelFiles files_;
  WanVideoShape shape_;
  std::vector<WanStageReport> reports_;
};

}  // namespace x2v
