#pragma once
// LightX2V's defaults for Wan2.1 configs, merged under the user's --config_json.
#include <string>

#include "io/config.h"

namespace x2v {

// `task` is "t2v" or "i2v"; an unknown task is an Error listing the known ones.
nlohmann::json wan_default_config(const std::string& task);
// The defaults for `task` with the file at `config_path` (may be empty) merged over them.
io::Config load_wan_config(const std::string& config_path, const std::string& task);

}  // namespace x2v
