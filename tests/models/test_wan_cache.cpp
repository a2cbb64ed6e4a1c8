// Feature caching (TeaCache, MagCache) against LightX2V's algorithms run around the official Wan DiT
// (fixtures from tools/reference/make_cache_fixtures.py): the same evaluations skip the blocks, per branch,
// and the sampled latents match; bad caching keys are one-line errors.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "models/wan/dit_model.h"
#include "pipeline/wan_sampling.h"
#include "support/test_device.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

using testing::expect_error_mentioning;
using testing::fixture_path;
using testing::load_fixture;
using testing::read_json;
using testing::relative_error;
using testing::test_device;

WanSamplingInputs sample_inputs() {
  const std::string file = "wan_dit/t2v/sample_inputs.safetensors";
  WanSamplingInputs inputs;
  inputs.noise = load_fixture(file, "noise");
  inputs.context = load_fixture(file, "context");
  inputs.context_null = load_fixture(file, "context_null");
  return inputs;
}

std::vector<bool> as_bools(const nlohmann::json& list) {
  std::vector<bool> values;
  for (const nlohmann::json& value : list) values.push_back(value.get<bool>());
  return values;
}

TEST(WanCache, TeaAndMagSkipWhereLightX2VDoesAndMatchItsLatents) {
  const nlohmann::json runs = read_json("wan_cache/cache_runs.json");
  const WanDitCheckpoint checkpoint = WanDitCheckpoint::open(fixture_path("wan_dit/t2v/model_original"));
  const WanDit model(checkpoint, WanDitKernels{}, Precision{DType::f32, DType::f32}, test_device());
  const WanSamplingInputs inputs = sample_inputs();
  ASSERT_EQ(runs.size(), 3u);
  for (const auto& [name, run] : runs.items()) {
    const WanSamplingOptions options = WanSamplingOptions::from_config(io::Config(run));
    ASSERT_NE(options.caching.kind, FeatureCaching::none) << name;
    std::unique_ptr<Sampler> sampler = make_sampler(options.sampler);
    WanGuidedDenoiser denoiser(model, inputs, options.enable_cfg, options.guide_scale, options.caching);
    const Tensor latents = run_sampling(denoiser, *sampler, inputs.noise, name);
    EXPECT_EQ(denoiser.cache(true)->computed(), as_bools(run["cond_computed"])) << name;
    EXPECT_EQ(denoiser.cache(false)->computed(), as_bools(run["uncond_computed"])) << name;
    EXPECT_GT(denoiser.cache(true)->skipped(), 0) << name;
    const Tensor expected = load_fixture("wan_cache/cache_outputs.safetensors", name);
    EXPECT_LE(relative_error(latents, expected), 1e-4) << name;
    // The skipped evaluations changed the result: without caching it is another video.
    WanSamplingOptions uncached = options;
    uncached.caching = FeatureCacheOptions{};
    EXPECT_GT(relative_error(sample_wan_latents(model, inputs, uncached), expected), 1e-3) << name;
  }
}

TEST(WanCache, BadKeysAreNamed) {
  const auto options = [](nlohmann::json values) {
    values["infer_steps"] = 4;
    return WanSamplingOptions::from_config(io::Config(values, "test.json"));
  };
  expect_error_mentioning([&] { options({{"feature_caching", "Teacache"}}); }, "NoCaching, Tea, Mag");
  expect_error_mentioning([&] { options({{"feature_caching", "TaylorSeer"}}); }, "not implemented");
  expect_error_mentioning([&] { options({{"feature_caching", "Tea"}}); }, "needs coefficients");
  expect_error_mentioning(
      [&] {
        options({{"feature_caching", "Tea"}, {"coefficients", {1.0, 2.0}}});
      },
      "coefficients must be [[ret coefficients], [non-ret coefficients]]");
  expect_error_mentioning(
      [&] {
        options({{"feature_caching", "Tea"},
                 {"use_ret_steps", true},
                 {"coefficients", {nlohmann::json::array(), {1.0, 0.0}}}});
      },
      "coefficients[0] is empty");
  expect_error_mentioning(
      [&] {
        options({{"feature_caching", "Mag"}, {"magcache_ratios", {{1.0, 1.0, 1.0}, {1.0, 1.0, 1.0}}}});
      },
      "magcache_ratios has 3 ratios per branch for 4 steps");
  expect_error_mentioning(
      [&] {
        options({{"feature_caching", "Mag"}, {"magcache_calibration", true}});
      },
      "magcache_calibration is not implemented");
  EXPECT_EQ(options({{"feature_caching", "NoCaching"}}).caching.kind, FeatureCaching::none);
}

}  // namespace
}  // namespace x2v
