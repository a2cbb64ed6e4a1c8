#pragma once
// The umT5 encoder fixture's token cases (tests/fixtures/t5/encoder_cases.json) and an error catcher,
// shared by the T5 tests.
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "fixtures.h"
#include "models/wan/t5_tokenizer.h"

namespace x2v::testing {

inline const nlohmann::json& t5_encoder_cases() {
  static const nlohmann::json cases = [] {
    std::ifstream file(fixture_path("t5/encoder_cases.json"));
    return nlohmann::json::parse(file);
  }();
  return cases;
}

// One case's ids padded to `text_len` (as the tokenizer returns them) with its length.
inline TokenizedText t5_case_tokens(const nlohmann::json& entry, int64_t text_len = 512) {
  TokenizedText tokens;
  tokens.ids = entry["ids"].get<std::vector<int32_t>>();
  tokens.length = entry["length"];
  tokens.ids.resize(text_len, 0);
  return tokens;
}

// The message of the x2v::Error `action` throws, or "(no error)".
inline std::string error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

}  // namespace x2v::testing
