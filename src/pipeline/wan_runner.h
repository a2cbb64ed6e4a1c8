#pragma once
// The Wan2.1 text-to-video runner: prompt -> umT5 -> DiT sampling loop -> VAE decode -> MP4, one stage
// at a time so each model is freed before the next is loaded (peak memory = the largest stage, not the
// sum). The stages are public so the stage commands (encode-text, sample, decode) run them alone.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/config.h"
#include "models/wan/vae.h"
#include "pipeline/wan_cost.h"
#include "pipeline/wan_defaults.h"
#include "pipeline/wan_model_files.h"
#include "platform/device.h"

namespace x2v {

// The model classes and tasks this runner serves; anything else is an Error listing these.
void check_wan_model_class(const std::string& model_cls, const std::string& task);

struct WanTextContexts {
  Tensor context;       // [tokens, text_dim] f32 (EOS included, no padding)
  Tensor context_null;  // the negative prompt's; undefined when CFG is off
};

struct WanRequest {
  std::string prompt;
  std::string negative_prompt;   // empty: config sample_neg_prompt, else the official default
  std::optional<uint64_t> seed;  // --seed; unset: the config's seed (default 42)
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
  // Checks every setting (config values, DTYPE, kernel names and quant schemes on the devices that will
  // run them, sizes against memory) and finds every model file before any work starts.
  WanT2VRunner(const std::string& model_path, io::Config config, Device& device,
               std::string model_cls = "wan2.1");

  const io::Config& config() const { return config_; }
  int64_t fps() const { return fps_; }
  const WanModelFiles& files() const { return files_; }
  const WanVideoShape& video_shape() const { return shape_; }
  bool cfg_enabled() const;

  // Throws Error for an empty prompt, a bad seed or an output path that cannot be written, and runs
  // check_dit_stage, before any work.
  void check_request(const WanRequest& request) const;
  // What only the DiT stage needs: dit_quantized_ckpt and the LoRA files exist, the size fits the memory.
  void check_dit_stage() const;
  // The effective settings, one line each, with where each came from ([default], [config], [--seed]),
  // then the cost: tokens, DiT evaluations and the expected time at this machine's measured matmul rate.
  // Also returns, in `warnings`, a line when the run is expected to take more than an hour.
  std::vector<std::string> describe(const WanRequest& request, std::vector<std::string>* warnings) const;

  // Each stage loads its model, runs, and frees it before returning.
  WanTextContexts encode_text(const std::string& prompt, const std::string& negative_prompt);
  Tensor sample(const WanTextContexts& contexts, uint64_t seed);
  // Streams the decoded frames ([3, n, H, W] f32 in [-1, 1]) to `sink` as they come.
  void decode(const Tensor& latents, const std::function<void(const Tensor&)>& sink);

  // All stages: writes save_result_path (and the PNG frames) only when complete.
  void run(const WanRequest& request);

  const std::vector<WanStageReport>& stage_reports() const { return reports_; }

 private:
  // Runs `body` as the stage `name`, recording its time and allocator peak.
  void timed_stage(const std::string& name, const std::function<void()>& body);

  // "[config]" when the user's file set `key`, else "[default]".
  std::string origin(const std::string& key) const;

  io::Config config_;
  Device* device_;
  std::string model_cls_;
  WanModelFiles files_;
  WanVideoShape shape_;
  WanDitConfig dit_config_;
  WanCost cost_;
  WanVaeOptions vae_options_;
  int64_t text_len_ = 512;
  int64_t fps_ = 16;
  std::vector<WanStageReport> reports_;
};

}  // namespace x2v
