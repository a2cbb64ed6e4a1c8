#pragma once
// The umT5 encoder fixture's token cases (tests/fixtures/t5/encoder_cases.json), shared by the T5 tests.
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "fixtures.h"
#include "models/wan/t5_tokenizer.h"
#include "support/test_helpers.h"

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

}  // namespace x2v::testing
