#include "pipeline/wan_defaults.h"

#include "core/error.h"

namespace x2v {

nlohmann::json wan_default_config(const std::string& task) {
  if (task != "t2v" && task != "i2v")
    throw Error("config", concat("unknown task '", task, "'; supported: t2v, i2v"));
  const bool i2v = task == "i2v";
  return nlohmann::json{{"infer_steps", i2v ? 40 : 50},
                        {"target_video_length", 81},
                        {"target_height", 480},
                        {"target_width", 832},
                        {"text_len", 512},
                        {"sample_guide_scale", i2v ? 5.0 : 6.0},
                        {"sample_shift", i2v ? 3.0 : 8.0},
                        {"enable_cfg", true},
                        {"fps", 16},
                        {"seed", 42}};
}

io::Config load_wan_config(const std::string& config_path, const std::string& task) {
  const io::Config defaults(wan_default_config(task), "defaults");
  if (config_path.empty()) return defaults;
  const io::Config user = io::Config::from_file(config_path);
  return io::Config(io::merge_config(defaults.json(), user.json()), config_path);
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
                                 " is not a multiple of 16; use e.g. 480x832 (", config.source(), ")"));
  return shape;
}

Shape WanVideoShape::latent_shape() const {
  return {16, 1 + (frames - 1) / 4, height / 8, width / 8};
}

}  // namespace x2v
