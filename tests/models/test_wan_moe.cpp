// Wan2.2 A14B's two experts against the official Wan2.2 code (fixtures from
// tools/reference/make_moe_fixtures.py): the loop of text2video.py with two small experts (which expert ran
// at each step, and the final latents), and a Wan2.2 I2V DiT without a CLIP branch taking y. The weights are
// regenerated from the fixture's recipes with x2v's torch-identical generator.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "io/memory_checkpoint.h"
#include "pipeline/wan_moe.h"
#include "support/test_device.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

using testing::expect_error_mentioning;
using testing::load_fixture;
using testing::read_json;
using testing::relative_error;
using testing::test_device;

constexpr Precision kF32{DType::f32, DType::f32};

WanDitCheckpoint expert_checkpoint(const nlohmann::json& fixture, const std::string& which) {
  auto checkpoint = std::make_unique<io::MemoryCheckpoint>(which);
  for (const auto& [name, tensor] : testing::recipe_tensors(fixture[which])) checkpoint->add(name, tensor);
  const io::Config config(fixture["config"], "moe.json config");
  return WanDitCheckpoint::from_checkpoint(std::move(checkpoint), &config);
}

Tensor fixture(const std::string& name) {
  return load_fixture("wan_moe/moe.safetensors", name);
}

TEST(WanMoe, ExpertsSwitchAtTheBoundaryAsTheOfficialLoop) {
  const nlohmann::json moe_fixture = read_json("wan_moe/moe.json");
  const WanDitCheckpoint high = expert_checkpoint(moe_fixture, "high");
  const WanDitCheckpoint low = expert_checkpoint(moe_fixture, "low");
  const io::Config run(moe_fixture["run"], "moe.json run");
  const WanSamplingOptions sampling = WanSamplingOptions::from_config(run);
  ASSERT_TRUE(sampling.low_noise_guide_scale.has_value());
  const WanMoeOptions moe = WanMoeOptions::from_config(run);
  WanSamplingInputs inputs;
  inputs.noise = fixture("noise");
  inputs.context = fixture("context");
  inputs.context_null = fixture("context_null");
  std::vector<WanExpert> loads;
  WanMoeDenoiser denoiser(
      [&](WanExpert expert) {
        loads.push_back(expert);
        return std::make_unique<WanDit>(expert == WanExpert::high_noise ? high : low, WanDitKernels{}, kF32,
                                        test_device());
      },
      inputs, sampling, moe);
  const std::unique_ptr<Sampler> sampler = make_sampler(sampling.sampler);
  const Tensor latents = run_sampling(denoiser, *sampler, inputs.noise, "moe");
  std::vector<std::string> experts;
  for (WanExpert expert : denoiser.experts_run())
    experts.push_back(expert == WanExpert::high_noise ? "high" : "low");
  EXPECT_EQ(experts, moe_fixture["experts"].get<std::vector<std::string>>());
  // Each expert loaded once, the high-noise one first: one in memory at a time.
  EXPECT_EQ(loads, (std::vector<WanExpert>{WanExpert::high_noise, WanExpert::low_noise}));
  EXPECT_LE(relative_error(latents, fixture("latents")), testing::kModelF32Tolerance);
}

TEST(WanMoe, Wan22I2vDitTakesYWithoutClip) {
  const nlohmann::json moe_fixture = read_json("wan_moe/moe.json");
  const WanDitCheckpoint checkpoint = expert_checkpoint(moe_fixture, "i2v");
  EXPECT_TRUE(checkpoint.config().takes_y());
  EXPECT_FALSE(checkpoint.config().image_branch());
  const WanDit model(checkpoint, WanDitKernels{}, kF32, test_device());
  WanDitInputs inputs;
  inputs.x = fixture("noise");
  inputs.y = fixture("y");
  inputs.context = fixture("context");
  inputs.timestep = moe_fixture["i2v_timestep"].get<double>();
  EXPECT_LE(relative_error(model.forward(inputs), fixture("i2v_out")), testing::kModelF32Tolerance);
  inputs.clip_features = Tensor::host({257, 1280}, DType::f32);
  expect_error_mentioning([&] { model.forward(inputs); }, "this one has none");
}

TEST(WanMoe, BadBoundariesAreNamed) {
  const auto options = [](nlohmann::json values) {
    return WanMoeOptions::from_config(io::Config(values, "moe.json"));
  };
  expect_error_mentioning([&] { options({{"boundary", 1.2}}); }, "boundary 1.2 is outside (0, 1)");
  expect_error_mentioning([&] { options({{"boundary", 0}}); }, "is outside (0, 1)");
  expect_error_mentioning([&] { options({{"boundary_step_index", -2}}); }, "must be 0 or more");
  expect_error_mentioning(
      [&] {
        WanSamplingOptions::from_config(io::Config({{"sample_guide_scale", {1.0, 2.0, 3.0}}}, "x.json"));
      },
      "[high, low]");
}

}  // namespace
}  // namespace x2v
