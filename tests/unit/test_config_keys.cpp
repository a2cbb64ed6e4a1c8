// Config key accounting, the text helpers behind its messages, and seed parsing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/text.h"
#include "pipeline/config_keys.h"
#include "pipeline/wan_defaults.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

using testing::expect_error_mentioning;

// The problems of `json_text` read as a config file (test.json in a fresh temporary folder).
std::vector<std::string> problems_of(const std::string& json_text) {
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / concat("x2v_config_keys_", ::getpid());
  std::filesystem::create_directories(folder);
  const std::string path = (folder / "test.json").string();
  std::ofstream(path) << json_text;
  const io::Config config = io::Config::from_file(path);
  std::filesystem::remove_all(folder);
  return config_key_problems(config);
}

TEST(ConfigKeys, UsedKeysAndOffValuesAreSilent) {
  EXPECT_TRUE(problems_of(R"({"infer_steps": 4, "target_width": 96, "use_tae": false, "parallel": false,
                              "feature_caching": "NoCaching", "tae_path": "/x", "vae_stride": [4, 8, 8]})")
                  .empty());
}

// Every config x2v ships (configs/**.json) uses only keys x2v implements: no warning at all.
TEST(ConfigKeys, ShippedConfigsUseOnlyImplementedKeys) {
  int checked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(X2V_CONFIGS_DIR)) {
    if (entry.path().extension() != ".json") continue;
    const io::Config config = io::Config::from_file(entry.path().string());
    EXPECT_TRUE(config_key_problems(config).empty())
        << entry.path() << ": " << config_key_problems(config)[0];
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

TEST(ConfigKeys, TyposNameTheNearestKey) {
  const auto problems = problems_of(R"({"infer_step": 2, "target_widht": 96, "zzzz_qqqq": 1})");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find("did you mean 'infer_steps'?"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("did you mean 'target_width'?"), std::string::npos) << problems[1];
  EXPECT_EQ(problems[2].find("did you mean"), std::string::npos) << problems[2];
}

TEST(ConfigKeys, UnimplementedKeysSayWhatHappensInstead) {
  const auto problems = problems_of(
      R"({"use_taylor_cache": true, "offload_to_disk": true, "vae_stride": [4, 32, 32], "lazy_load": true})");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(
      problems[0].find("x2v ignores offload_to_disk = true (not implemented): LightX2V documents it but"),
      std::string::npos)
      << problems[0];
  EXPECT_NE(problems[1].find(
                "x2v ignores use_taylor_cache = true (not implemented): every step runs the whole DiT"),
            std::string::npos);
  EXPECT_NE(problems[2].find("vae_stride"), std::string::npos);
}

// Every top-level key of LightX2V's Wan2.1 configs (their union, as of this writing) is known: used, or
// named as not implemented; none comes out as "unknown".
TEST(ConfigKeys, LightX2VWanConfigKeysAreAllKnown) {
  const std::vector<std::string> keys = {"infer_steps",
                                         "target_video_length",
                                         "target_height",
                                         "target_width",
                                         "self_attn_1_type",
                                         "cross_attn_1_type",
                                         "cross_attn_2_type",
                                         "sample_guide_scale",
                                         "sample_shift",
                                         "enable_cfg",
                                         "cpu_offload",
                                         "offload_granularity",
                                         "t5_cpu_offload",
                                         "vae_cpu_offload",
                                         "clip_cpu_offload",
                                         "dit_quantized",
                                         "dit_quant_scheme",
                                         "dit_quantized_ckpt",
                                         "t5_quantized",
                                         "t5_quant_scheme",
                                         "clip_quantized",
                                         "clip_quant_scheme",
                                         "use_tiling_vae",
                                         "use_tae",
                                         "tae_path",
                                         "lazy_load",
                                         "unload_modules",
                                         "feature_caching",
                                         "teacache_thresh",
                                         "use_ret_steps",
                                         "coefficients",
                                         "parallel",
                                         "denoising_step_list",
                                         "lora_configs",
                                         "text_len",
                                         "fps",
                                         "target_fps",
                                         "video_frame_interpolation",
                                         "rms_norm_type",
                                         "layer_norm_type",
                                         "rope_type",
                                         "modulate_type",
                                         "use_31_block",
                                         "use_image_encoder",
                                         "resize_mode",
                                         "video_duration",
                                         "changing_resolution",
                                         "resolution_rate",
                                         "vae_stride",
                                         "patch_size",
                                         "general_sparse_attn_setting",
                                         "disagg_mode",
                                         "disagg_config",
                                         "causal_rope_type",
                                         "magcache_thresh",
                                         "num_disk_workers",
                                         "offload_ratio",
                                         "t5_lazy_load",
                                         "use_compile",
                                         "comment"};
  for (const std::string& key : keys) {
    const auto problems = problems_of(concat("{\"", key, "\": 1}"));
    for (const std::string& problem : problems)
      EXPECT_EQ(problem.find("unknown config key"), std::string::npos) << problem;
  }
}

TEST(ConfigKeys, RepeatedKeysAreNamed) {
  const auto duplicates_config = [] {
    std::vector<std::string> duplicates;
    io::parse_json_text(R"({"seed": 1, "nested": {"a": 1, "a": 2}, "seed": 2})", "t.json", &duplicates);
    return duplicates;
  }();
  EXPECT_EQ(duplicates_config, (std::vector<std::string>{"seed"})) << "top-level keys only";
  const auto problems =
      problems_of(R"({"lora_configs": [{"path": "x", "path": "y"}], "seed": 1, "seed": 2})");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("'seed' is written more than once in "), std::string::npos) << problems[0];
  EXPECT_NE(problems[0].find("test.json; the last one (2) is used"), std::string::npos) << problems[0];
}

TEST(ConfigKeys, UseBfloat16FalseIsNamed) {
  EXPECT_TRUE(problems_of(R"({"use_bfloat16": true})").empty());
  const auto problems = problems_of(R"({"use_bfloat16": false})");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("set DTYPE=FP32"), std::string::npos) << problems[0];
}

TEST(ConfigKeys, StrictMakesTheFirstProblemAnError) {
  const std::vector<std::string> problems = {"unknown config key 'a'", "unknown config key 'b'"};
  expect_error_mentioning([&] { report_config_key_problems(problems, true); }, "unknown config key 'a'");
  EXPECT_NO_THROW(report_config_key_problems(problems, false));
}

TEST(Text, PrintableEscapesControlCharacters) {
  EXPECT_EQ(printable("a\x1b[31mb\n\t"), "a\\x1b[31mb\\n\\t");
  EXPECT_EQ(printable("x\xc2\x9b"
                      "2J \xc3\xa9"),
            "x\\u009b2J \xc3\xa9");  // C1 escaped, é kept
  EXPECT_EQ(printable("plain"), "plain");
}

TEST(Text, NearestName) {
  EXPECT_EQ(nearest_name("infr", {"infer", "inspect", "decode"}), "infer");
  EXPECT_EQ(nearest_name("--model-path", {"--model_path", "--prompt"}), "--model_path");
  EXPECT_EQ(nearest_name("banana", {"infer", "decode"}), "");
}

TEST(Seed, FlagRangeIsUint64) {
  EXPECT_EQ(parse_seed_flag("0"), 0u);
  EXPECT_EQ(parse_seed_flag("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"-1", "18446744073709551616", "99999999999999999999", "1.5", "abc", ""})
    expect_error_mentioning([&] { parse_seed_flag(bad); }, "0..18446744073709551615");
}

TEST(Seed, ConfigSeed) {
  EXPECT_EQ(wan_seed(io::Config(nlohmann::json{{"seed", 7}}), std::nullopt), 7u);
  EXPECT_EQ(wan_seed(io::Config(nlohmann::json{{"seed", 7}}), 9u), 9u);
  EXPECT_EQ(wan_seed(io::Config(nlohmann::json::object()), std::nullopt), 42u);
  EXPECT_EQ(wan_seed(io::Config(nlohmann::json{{"seed", UINT64_MAX}}), std::nullopt), UINT64_MAX);
  expect_error_mentioning(
      [] {
        wan_seed(io::Config(nlohmann::json{{"seed", -5}}), std::nullopt);
      },
      "negative");
  expect_error_mentioning(
      [] {
        wan_seed(io::Config(nlohmann::json{{"seed", "7"}}), std::nullopt);
      },
      "not an integer");
}

}  // namespace
}  // namespace x2v
