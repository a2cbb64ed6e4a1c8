#pragma once
// LightX2V's defaults for Wan2.1 configs, merged under the user's --config_json, and the checks every
// run makes on the video it is asked for.
#include <string>

#include "core/tensor.h"
#include "io/config.h"

namespace x2v {

// `task` is "t2v" or "i2v"; an unknown task is an Error listing the known ones.
nlohmann::json wan_default_config(const std::string& task);
// The defaults for `task` with the file at `config_path` (may be empty) merged over them.
io::Config load_wan_config(const std::string& config_path, const std::string& task);

// The official Wan negative prompt (wan_shared_cfg.sample_neg_prompt), used when neither the command line
// nor the config (sample_neg_prompt) gives one.
const std::string& wan_default_negative_prompt();

// The video a config asks for: target_video_length frames (4n+1) of target_height x target_width
// (multiples of 16). Errors name the key and a valid value.
struct WanVideoShape {
  int64_t frames = 81, height = 480, width = 832;
  static WanVideoShape from_config(const io::Config& config);
  // [16, 1 + (frames - 1) / 4, height / 8, width / 8]
  Shape latent_shape() const;
};

}  // namespace x2v
