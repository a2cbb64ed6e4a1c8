#pragma once
// Every key of a user's config is accounted for: x2v uses it, or LightX2V has it and x2v does not
// implement it (a warning saying what happens instead), or nobody knows it (a warning with the nearest
// known key). Strict mode (--strict, or "strict_config": true) makes each of these an error.
#include <string>
#include <vector>

#include "io/config.h"

namespace x2v {

// One line per key that is not simply used: "x2v ignores use_tae (not implemented): ...",
// "unknown config key 'infer_step'; did you mean 'infer_steps'?", repeated keys. Empty when all is well.
std::vector<std::string> config_key_problems(const io::Config& user_config);

// Logs each problem as a warning, or throws Error with the first one when `strict`.
void report_config_key_problems(const std::vector<std::string>& problems, bool strict);

// The keys x2v uses (for "did you mean" and the README's list).
const std::vector<std::string>& used_config_keys();

}  // namespace x2v
