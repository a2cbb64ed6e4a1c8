#include "pipeline/wan_defaults.h"

#include <cerrno>
#include <cstdlib>

#include "core/error.h"
#include "pipeline/config_keys.h"

namespace x2v {

nlohmann::json wan_default_config(const std::string& model_cls, const std::string& task) {
  if (task != "t2v" && task != "i2v")
    throw Error("config", concat("unknown task '", task, "'; supported: t2v, i2v"));
  const bool i2v = task == "i2v";
  nlohmann::json defaults{{"infer_steps", i2v ? 40 : 50},
                          {"target_video_length", 81},
                          {"target_height", 480},
                          {"target_width", 832},
                          {"text_len", 512},
                          {"sample_guide_scale", i2v ? 5.0 : 6.0},
                          {"sample_shift", i2v ? 3.0 : 8.0},
                          {"enable_cfg", true},
                          {"fps", 16},
                          {"seed", 42}};
  if (model_cls == "wan2.2_moe" || model_cls == "wan2.2_moe_distill") {
    // LightX2V's configs/wan22/wan_moe_{t2v,i2v}.json (the official A14B settings): guidance per expert
    // [high, low]; i2v has no CLIP.
    defaults["infer_steps"] = 40;
    defaults["boundary"] = i2v ? 0.900 : 0.875;
    defaults["sample_shift"] = i2v ? 5.0 : 12.0;
    defaults["sample_guide_scale"] =
        i2v ? nlohmann::json::array({3.5, 3.5}) : nlohmann::json::array({4.0, 3.0});
    defaults["target_height"] = 720;
    defaults["target_width"] = 1280;
    if (i2v) defaults["use_image_encoder"] = false;
  }
  if (model_cls == "wan2.2_moe_distill") {
    // LightX2V's configs/distill/wan22: 4 steps, the high-noise expert for the first 2, no CFG, shift 5.
    defaults["infer_steps"] = 4;
    defaults["denoising_step_list"] = {1000, 750, 500, 250};
    defaults["boundary_step_index"] = 2;
    defaults["enable_cfg"] = false;
    defaults["sample_shift"] = 5.0;
    defaults["sample_guide_scale"] = nlohmann::json::array({3.5, 3.5});
  }
  if (model_cls == "wan2.2") {
    // Wan2.2 TI2V-5B (LightX2V's configs/wan22/wan_ti2v_t2v.json, the official wan_ti2v_5B.py).
    defaults["target_video_length"] = 121;
    defaults["target_height"] = 704;
    defaults["target_width"] = 1280;
    defaults["sample_guide_scale"] = 5.0;
    defaults["sample_shift"] = 5.0;
    defaults["fps"] = 24;
  }
  if (model_cls == "wan2.1_distill") {
    // LightX2V's wan2.1 step-distill configs: 4 steps, no CFG, shift 5.
    defaults["infer_steps"] = 4;
    defaults["denoising_step_list"] = {1000, 750, 500, 250};
    defaults["enable_cfg"] = false;
    defaults["sample_shift"] = 5.0;
  }
  return defaults;
}

io::Config load_wan_run_config(const std::string& model_cls, const std::string& task,
                               const std::string& config_path, bool strict) {
  const nlohmann::json defaults = wan_default_config(model_cls, task);
  if (config_path.empty()) return io::Config(defaults, "defaults");
  const io::Config user = io::Config::from_file(config_path);
  report_config_key_problems(config_key_problems(user), strict || user.get_bool("strict_config", false));
  io::Config merged(io::merge_config(defaults, user.json()), config_path);
  std::vector<std::string> keys;
  for (const auto& [key, value] : user.json().items()) keys.push_back(key);
  merged.set_user_keys(std::move(keys));
  return merged;
}

uint64_t parse_seed_flag(const std::string& text) {
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  errno = 0;
  char* end = nullptr;
  const unsigned long long value = digits ? std::strtoull(text.c_str(), &end, 10) : 0;
  if (!digits || errno == ERANGE || end == nullptr || *end != '\0')
    throw Error("seed", concat("--seed ", text, " is not an integer in 0..18446744073709551615; give a",
                               " non-negative seed (each run prints the seed it used)"));
  return value;
}

uint64_t wan_seed(const io::Config& config, const std::optional<uint64_t>& flag) {
  if (flag) return *flag;
  if (!config.has("seed")) return 42;
  const nlohmann::json& value = config.json()["seed"];
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0)
    return static_cast<uint64_t>(value.get<int64_t>());
  if (value.is_number_integer())
    throw Error("config", concat("seed ", value.get<int64_t>(), " is negative; give a seed in",
                                 " 0..18446744073709551615 (in ", config.source(), ")"));
  if (value.is_number_float() && value.get<double>() >= 0 && value.get<double>() < 1.8e19 &&
      value.get<double>() == static_cast<double>(static_cast<uint64_t>(value.get<double>())))
    return static_cast<uint64_t>(value.get<double>());
  throw Error("config", concat("seed ", value.dump(), " is not an integer in 0..18446744073709551615 (in ",
                               config.source(), ")"));
}

const std::string& wan_default_negative_prompt() {
  static const std::string prompt =
      "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
      "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢"
      "体，"
      "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走";
  return prompt;
}

WanVideoShape WanVideoShape::from_config(const io::Config& config) {
  WanVideoShape shape;
  shape.frames = config.get_int("target_video_length");
  shape.height = config.get_int("target_height");
  shape.width = config.get_int("target_width");
  if (shape.frames < 1 || (shape.frames - 1) % 4 != 0)
    throw Error("config", concat("target_video_length ", shape.frames,
                                 " is not 4n+1; use e.g. 81, 33 or 17 (", config.source(), ")"));
  if (shape.height <= 0 || shape.width <= 0 || shape.height % 16 || shape.width % 16)
    throw Error("config", concat("target_height x target_width ", shape.height, "x", shape.width,
                                 " must be positive multiples of 16; use e.g. 480x832 or 240x416 (",
                                 config.source(), ")"));
  return shape;
}

Shape WanVideoShape::latent_shape() const {
  return {latent_channels, 1 + (frames - 1) / 4, height / spatial_factor, width / spatial_factor};
}

int64_t WanVideoShape::tokens() const {
  const Shape latent = latent_shape();
  return latent[1] * (latent[2] / 2) * (latent[3] / 2);
}

}  // namespace x2v
