// JSON config loading, LightX2V-style merging and typed getters.
#include "io/config.h"

#include "io_test_util.h"

namespace x2v::io {
namespace {

using testing::expect_error;

TEST(Config, LoadsFilesWithClearErrors) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("wan_t2v.json");
  const std::string good = "{\n  \"infer_steps\": 50,\n  \"parallel\": {\"cfg_p_size\": 2}\n}\n";
  testing::write_bytes(path, {good.begin(), good.end()});
  EXPECT_EQ(load_json_file(path)["infer_steps"], 50);

  const std::string bad = "{\n  \"infer_steps\": 50,\n  \"fps\": 16,\n}\n";  // trailing comma
  testing::write_bytes(path, {bad.begin(), bad.end()});
  expect_error([&] { load_json_file(path); }, {"[config]", path, "invalid JSON at line 4, column 1"});
  expect_error([] { load_json_file("/nonexistent/config.json"); },
               {"/nonexistent/config.json", "no such file"});
  expect_error([] { parse_json_text("{\"a\": tru}", "--config"); }, {"--config", "line 1, column"});
  // A number no double holds is an error naming it, not an escaped library exception (found by fuzz_config).
  expect_error([] { parse_json_text("{\"seed\": 1e999}", "big.json"); },
               {"big.json", "number overflow", "1e999"});
}

TEST(Config, MergesUserOverDefaultsRecursively) {
  const auto defaults = nlohmann::json::parse(
      R"({"infer_steps": 50, "sample_shift": 8, "parallel": {"cfg_p_size": 1, "seq_p_size": 1},
          "lora_configs": [{"path": "a"}]})");
  const auto user = nlohmann::json::parse(
      R"({"infer_steps": 4, "parallel": {"seq_p_size": 2}, "lora_configs": [], "denoising_step_list": [1000, 750]})");
  const auto merged = merge_config(defaults, user);
  EXPECT_EQ(merged["infer_steps"], 4);
  EXPECT_EQ(merged["sample_shift"], 8);
  EXPECT_EQ(merged["parallel"]["cfg_p_size"], 1);
  EXPECT_EQ(merged["parallel"]["seq_p_size"], 2);
  EXPECT_TRUE(merged["lora_configs"].empty()) << "arrays are replaced, not merged";
  EXPECT_EQ(merged["denoising_step_list"].size(), 2u);
  EXPECT_EQ(defaults["infer_steps"], 50) << "inputs untouched";
}

TEST(Config, TypedGetters) {
  const Config config(nlohmann::json::parse(
                          R"({"infer_steps": "50", "fps": 16, "shift": 5.0, "scale": 6.5, "enable_cfg": true,
                              "tae_path": null, "rope_type": "torch", "steps": [1000, 750.0],
                              "parallel": {"seq_p_size": "two"}})"),
                      "wan_t2v.json");
  expect_error([&] { config.get_int("infer_steps"); },
               {"config key 'infer_steps' is a string; expected an integer", "wan_t2v.json"});
  EXPECT_EQ(config.get_int("fps"), 16);
  EXPECT_EQ(config.get_int("shift"), 5) << "an integral float is an integer";
  expect_error([&] { config.get_int("scale"); },
               {"'scale' is a number with a fraction; expected an integer"});
  EXPECT_DOUBLE_EQ(config.get_double("scale"), 6.5);
  EXPECT_DOUBLE_EQ(config.get_double("fps"), 16.0);
  EXPECT_TRUE(config.get_bool("enable_cfg"));
  expect_error([&] { config.get_bool("fps"); }, {"'fps' is an integer; expected true or false"});
  EXPECT_EQ(config.get_string("rope_type"), "torch");
  EXPECT_EQ(config.get_string("tae_path", "none"), "none") << "null means unset";
  EXPECT_FALSE(config.has("tae_path"));
  EXPECT_EQ(config.get_int("missing", 7), 7);
  expect_error([&] { config.get_int("missing"); }, {"config key 'missing' is missing"});
  EXPECT_EQ(config.get_int_list("steps"), (std::vector<int64_t>{1000, 750}));
  expect_error([&] { config.get_string_list("steps"); }, {"expected an array of strings"});
  const Config parallel = config.section("parallel");
  expect_error([&] { parallel.get_int("seq_p_size"); }, {"config key 'parallel.seq_p_size' is a string"});
  expect_error([&] { config.section("fps"); }, {"'fps' is an integer; expected an object"});
  expect_error([] { Config not_object(nlohmann::json::array()); }, {"expected a JSON object"});

  const Config merged = config.merged_with(nlohmann::json::parse(R"({"infer_steps": 4})"));
  EXPECT_EQ(merged.get_int("infer_steps"), 4);
}

}  // namespace
}  // namespace x2v::io
