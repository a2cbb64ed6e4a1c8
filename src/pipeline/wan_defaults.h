#pragma once
// LightX2V's defaults for Wan2.1 configs, merged under the user's --config_json, and the checks every
// run makes on the video it is asked for.
#include <optional>
#include <string>

#include "core/tensor.h"
#include "io/config.h"

namespace x2v {

// LightX2V's defaults for `model_cls` ("wan2.1", or "wan2.1_distill": 4 steps, no CFG, shift 5) and
// `task` ("t2v" or "i2v"); an unknown task is an Error listing the known ones.
nlohmann::json wan_default_config(const std::string& model_cls, const std::string& task);

// The one config loader: the defaults with the file at `config_path` (may be empty) merged over them.
// Every key of the file is accounted for (config_keys.h): problems are warnings, or an Error when
// `strict` or the file's strict_config is true. The result records which keys the file set.
io::Config load_wan_run_config(const std::string& model_cls, const std::string& task,
                               const std::string& config_path, bool strict);

// The noise seed: `flag` (--seed) when given, else the config's seed; 0..2^64-1 as torch.manual_seed
// takes it. Errors name the value and the range.
uint64_t wan_seed(const io::Config& config, const std::optional<uint64_t>& flag);
// Parses --seed's text; a negative, fractional or too large value is an Error.
uint64_t parse_seed_flag(const std::string& text);

// The official Wan negative prompt (wan_shared_cfg.sample_neg_prompt), used when neither the command line
// nor the config (sample_neg_prompt) gives one.
const std::string& wan_default_negative_prompt();

// The video a config asks for: target_video_length frames (4n+1) of target_height x target_width
// (multiples of 16). Errors name the key and a valid value.
struct WanVideoShape {
  int64_t frames = 81, height = 480, width = 832;
  // The VAE's: 16 channels at 8x (Wan2.1's VAE), 48 at 16x (Wan2.2's, TI2V-5B).
  int64_t latent_channels = 16, spatial_factor = 8;
  // Errors name the key, the rule and a valid value.
  static WanVideoShape from_config(const io::Config& config);
  // [latent_channels, 1 + (frames - 1) / 4, height / spatial_factor, width / spatial_factor]
  Shape latent_shape() const;
  // DiT tokens: latent frames x latent pixels / 4 (2x2 patches).
  int64_t tokens() const;
};

}  // namespace x2v
