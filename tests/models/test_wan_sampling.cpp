// Schedules and sampling loops against the official scheduler and reference loops
// (fixtures from tools/reference/make_dit_fixtures.py).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "pipeline/wan_sampling.h"
#include "platform/platform.h"
#include "support/test_device.h"

namespace x2v {
namespace {

using testing::test_device;

using testing::fixture_path;
using testing::load_fixture;
using testing::read_json;
using testing::relative_error;

TEST(WanSchedule, UniPcTablesMatchTheOfficialSchedulerExactly) {
  const nlohmann::json tables = read_json("wan_dit/scheduler_tables.json");
  int checked = 0;
  for (const auto& [name, table] : tables.items()) {
    if (name.rfind("unipc_", 0) != 0) continue;
    const FlowSchedule schedule = wan_flow_schedule(table["steps"].get<int>(), table["shift"].get<double>());
    const std::vector<int64_t> timesteps = table["timesteps"].get<std::vector<int64_t>>();
    const std::vector<double> sigmas = table["sigmas"].get<std::vector<double>>();
    ASSERT_EQ(schedule.steps(), static_cast<int>(timesteps.size())) << name;
    for (size_t i = 0; i < timesteps.size(); ++i)
      EXPECT_EQ(schedule.timesteps[i], timesteps[i]) << name << " " << i;
    ASSERT_EQ(schedule.sigmas.size(), sigmas.size());
    for (size_t i = 0; i < sigmas.size(); ++i)
      EXPECT_EQ(static_cast<float>(schedule.sigmas[i]), static_cast<float>(sigmas[i])) << name << " " << i;
    ++checked;
  }
  EXPECT_GE(checked, 4);
  // The published check: 50 steps, shift 5 -> 999, 995, 991, 987, 982, ..., 241, 172, 92.
  const FlowSchedule schedule = wan_flow_schedule(50, 5.0);
  EXPECT_EQ(schedule.timesteps[4], 982);
  EXPECT_EQ(schedule.timesteps.back(), 92);
}

TEST(WanSchedule, StepDistillMatchesLightX2V) {
  const FlowSchedule schedule = step_distill_schedule({1000, 750, 500, 250}, 5.0);
  const std::vector<double> expected = {1.0, 0.9375, 0.8333333333333334, 0.625};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_DOUBLE_EQ(schedule.sigmas[i], expected[i]);
    EXPECT_DOUBLE_EQ(schedule.timesteps[i], expected[i] * 1000.0);
  }
  EXPECT_THROW(step_distill_schedule({1200}, 5.0), Error);
  EXPECT_THROW(wan_flow_schedule(0, 5.0), Error);
}

void check_sampling_runs(const std::string& variant) {
  const nlohmann::json runs = read_json("wan_dit/" + variant + "/sample_runs.json");
  const WanDitCheckpoint checkpoint =
      WanDitCheckpoint::open(fixture_path("wan_dit/" + variant + "/model_original"));
  WanDitKernels kernels;
  const WanDit model(checkpoint, kernels, Precision{DType::f32, DType::f32}, test_device());
  const std::string inputs_file = "wan_dit/" + variant + "/sample_inputs.safetensors";
  WanSamplingInputs inputs;
  inputs.noise = load_fixture(inputs_file, "noise");
  inputs.context = load_fixture(inputs_file, "context");
  inputs.context_null = load_fixture(inputs_file, "context_null");
  if (variant == "i2v") {
    inputs.clip_features = load_fixture(inputs_file, "clip_fea");
    inputs.y = load_fixture(inputs_file, "y");
  }
  for (const auto& [name, run] : runs.items()) {
    const WanSamplingOptions options = WanSamplingOptions::from_config(io::Config(run));
    const Tensor latents = sample_wan_latents(model, inputs, options);
    const Tensor expected = load_fixture("wan_dit/" + variant + "/sample_outputs.safetensors", name);
    EXPECT_LE(relative_error(latents, expected), 1e-4) << variant << " " << name;
  }
}

TEST(WanSampling, T2vRunsMatchTheReference) {
  check_sampling_runs("t2v");
}
TEST(WanSampling, I2vRunsMatchTheReference) {
  check_sampling_runs("i2v");
}

TEST(WanSampling, UnknownSolverIsAnError) {
  EXPECT_THROW(WanSamplingOptions::from_config(io::Config(nlohmann::json{{"sample_solver", "ddim"}})), Error);
  EXPECT_THROW(make_sampler(SamplerOptions{"ddim", 4, 5.0, {}}), Error);
}

}  // namespace
}  // namespace x2v
