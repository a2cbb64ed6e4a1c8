#pragma once
// A generation pipeline for one model class, as `x2v infer` (and a server) drives it: check a request
// before any work, describe the settings, run, report per stage. Each model family implements one and
// registers it by LightX2V's model_cls (runner_registry.h).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace x2v {

struct GenerationRequest {
  std::string prompt;
  std::string negative_prompt;   // empty: config sample_neg_prompt, else the model's default
  std::optional<uint64_t> seed;  // --seed; unset: the config's seed (default 42)
  std::string save_result_path;
  std::string save_frames_dir;  // optional: PNG frames as well
  std::string image_path;       // i2v: the first frame (PNG or JPEG)
};

struct StageReport {
  std::string stage;
  double seconds = 0;
  size_t allocator_peak_bytes = 0;  // the device allocator's peak during the stage
};

struct VideoSummary {
  int64_t frames = 0, width = 0, height = 0, fps = 0;
};

class Runner {
 public:
  virtual ~Runner() = default;
  // Throws Error for a request that cannot run (empty prompt, unwritable output, too little memory), before
  // any work.
  virtual void check_request(const GenerationRequest& request) const = 0;
  // The effective settings, one line each, with where each came from; `warnings` gets lines about a run
  // that is expected to be very long.
  virtual std::vector<std::string> describe(const GenerationRequest& request,
                                            std::vector<std::string>* warnings) const = 0;
  // All stages; writes the outputs only when complete.
  virtual void run(const GenerationRequest& request) = 0;
  virtual VideoSummary video() const = 0;
  virtual const std::vector<StageReport>& stage_reports() const = 0;
};

}  // namespace x2v
