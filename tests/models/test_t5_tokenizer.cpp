// The umT5 tokenizer and Wan's prompt cleaning against the official HuggingfaceTokenizer over transformers'
// tokenizer (fixtures from tools/reference/make_t5_fixtures.py, on a small SentencePiece model trained with
// umT5's settings): CJK, emoji, HTML entities, whitespace runs, truncation to 512 with EOS.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "models/wan/t5_tokenizer.h"
#include "t5_cases.h"

namespace x2v {
namespace {

using testing::fixture_path;

const nlohmann::json& tokenizer_cases() {
  static const nlohmann::json cases = [] {
    std::ifstream file(fixture_path("t5/tokenizer_cases.json"));
    return nlohmann::json::parse(file);
  }();
  return cases;
}

const T5Tokenizer& fixture_tokenizer() {
  static const T5Tokenizer tokenizer(fixture_path("t5/spiece.model"));
  return tokenizer;
}

using testing::error_message;

TEST(T5Tokenizer, CleanPromptMatchesWanCleaning) {
  int checked = 0;
  for (const auto& pair : tokenizer_cases()["clean"]) {
    const std::string input = pair[0], expected = pair[1];
    EXPECT_EQ(clean_prompt(input), expected) << "input: " << input;
    ++checked;
  }
  for (const auto& entry : tokenizer_cases()["cases"]) {
    const std::string prompt = entry["prompt"], expected = entry["cleaned"];
    EXPECT_EQ(clean_prompt(prompt), expected) << "prompt: " << prompt;
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

TEST(T5Tokenizer, IdsMatchTransformers) {
  const T5Tokenizer& tokenizer = fixture_tokenizer();
  const int64_t max_length = tokenizer_cases()["max_length"];
  for (const auto& entry : tokenizer_cases()["cases"]) {
    const std::string prompt = entry["prompt"];
    const std::vector<int32_t> expected = entry["ids"];
    const TokenizedText tokens = tokenizer.encode(prompt, max_length);
    ASSERT_EQ(static_cast<int64_t>(tokens.ids.size()), max_length) << prompt;
    EXPECT_EQ(tokens.length, entry["length"].get<int64_t>()) << prompt;
    EXPECT_EQ(std::vector<int32_t>(tokens.ids.begin(), tokens.ids.begin() + tokens.length), expected)
        << prompt;
    for (int64_t i = tokens.length; i < max_length; ++i)
      ASSERT_EQ(tokens.ids[i], tokenizer.pad_id()) << prompt;
  }
}

// The fixture must exercise characters outside the vocabulary (where SentencePiece alone would differ)
// and the truncation, or the test above proves less than it claims.
TEST(T5Tokenizer, FixtureCoversUnknownCharactersAndTruncation) {
  int differing = 0, truncated = 0;
  for (const auto& entry : tokenizer_cases()["cases"]) {
    differing += entry["sentencepiece_differs"].get<bool>();
    truncated += entry["length"].get<int64_t>() == tokenizer_cases()["max_length"].get<int64_t>();
  }
  EXPECT_GE(differing, 2);
  EXPECT_EQ(truncated, 1);
}

TEST(T5Tokenizer, TruncationKeepsRoomForEos) {
  const T5Tokenizer& tokenizer = fixture_tokenizer();
  const std::string prompt = "A cat runs across the garden at sunset, cinematic shot.";
  const TokenizedText full = tokenizer.encode(prompt);
  ASSERT_GT(full.length, 6);
  const TokenizedText cut = tokenizer.encode(prompt, 6);
  ASSERT_EQ(cut.ids.size(), 6u);
  EXPECT_EQ(cut.length, 6);
  EXPECT_EQ(std::vector<int32_t>(cut.ids.begin(), cut.ids.begin() + 5),
            std::vector<int32_t>(full.ids.begin(), full.ids.begin() + 5));
  EXPECT_EQ(cut.ids[5], tokenizer.eos_id());
  const TokenizedText only_eos = tokenizer.encode(prompt, 1);
  EXPECT_EQ(only_eos.ids, std::vector<int32_t>{tokenizer.eos_id()});
  EXPECT_EQ(only_eos.length, 1);
  EXPECT_THROW(tokenizer.encode(prompt, 0), Error);
}

TEST(T5Tokenizer, VocabularyAndSpecialIds) {
  const T5Tokenizer& tokenizer = fixture_tokenizer();
  EXPECT_EQ(tokenizer.vocab_size(), tokenizer_cases()["vocab_size"].get<int64_t>());
  EXPECT_EQ(tokenizer.pad_id(), tokenizer_cases()["pad_id"].get<int32_t>());
  EXPECT_EQ(tokenizer.eos_id(), tokenizer_cases()["eos_id"].get<int32_t>());
}

// Documented difference: HTML5 names outside the HTML 4 set stay as written (Python would unescape them).
TEST(T5Tokenizer, NamedEntitiesOutsideTheSubsetStayAsWritten) {
  const std::string text = tokenizer_cases()["outside_entity_subset"];
  EXPECT_EQ(clean_prompt(text), text);
  EXPECT_EQ(clean_prompt("&hearts;&NotEqualTilde;"), "\u2665&NotEqualTilde;");
}

TEST(T5Tokenizer, RejectsInvalidUtf8) {
  for (const std::string bad : {"\xff", "ok \xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"}) {
    const std::string message = error_message([&] { clean_prompt(bad); });
    EXPECT_NE(message.find("not valid UTF-8"), std::string::npos) << message;
  }
}

TEST(T5Tokenizer, FindsTheModelInModelFolders) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / concat("x2v_t5_tokenizer_", ::getpid());
  fs::remove_all(root);
  fs::create_directories(root / "google" / "umt5-xxl");
  fs::copy_file(fixture_path("t5/spiece.model"), root / "google" / "umt5-xxl" / "spiece.model");
  const std::string prompt = "一只猫在草地上奔跑";
  const std::vector<int32_t> expected = fixture_tokenizer().encode(prompt).ids;
  EXPECT_EQ(T5Tokenizer(root.string()).encode(prompt).ids, expected);       // Wan model folder
  EXPECT_EQ(T5Tokenizer(fixture_path("t5")).encode(prompt).ids, expected);  // folder with spiece.model

  fs::remove_all(root / "google");
  std::string message = error_message([&] { T5Tokenizer tokenizer(root.string()); });
  EXPECT_NE(message.find("google/umt5-xxl/spiece.model"), std::string::npos) << message;
  message = error_message([&] { T5Tokenizer tokenizer((root / "missing.model").string()); });
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
  message = error_message([&] { T5Tokenizer tokenizer(fixture_path("t5/tokenizer_cases.json")); });
  EXPECT_NE(message.find("cannot load"), std::string::npos) << message;
  fs::remove_all(root);
}

}  // namespace
}  // namespace x2v
