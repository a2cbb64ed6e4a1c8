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

}  // namespace x2v
