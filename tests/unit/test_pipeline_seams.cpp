// The seams the next features plug into: the denoiser the sampling loop calls, and the runner table
// `x2v infer` asks by model_cls.
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/denoiser.h"
#include "pipeline/runner_registry.h"
#include "platform/platform.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

// A denoiser that knows the clean latents: flow matching's velocity is noise - x0 at every step.
class OracleDenoiser : public Denoiser {
 public:
  OracleDenoiser(Tensor clean, Tensor noise) : clean_(std::move(clean)), noise_(std::move(noise)) {}
  Tensor velocity(const Tensor& latents, double timestep, int step) override {
    EXPECT_EQ(step, static_cast<int>(timesteps.size()));
    EXPECT_EQ(latents.shape(), clean_.shape());
    timesteps.push_back(timestep);
    std::vector<float> values = noise_.to_floats();
    const std::vector<float> clean = clean_.to_floats();
    for (size_t i = 0; i < values.size(); ++i) values[i] -= clean[i];
    return Tensor::host_from(values, clean_.shape());
  }
  std::vector<double> timesteps;

 private:
  Tensor clean_, noise_;
};

TEST(Denoiser, SamplingWithTheExactVelocityRecoversTheCleanLatents) {
  const Tensor clean = Tensor::host_from({0.5f, -1.0f, 2.0f, 0.25f}, {1, 1, 2, 2});
  const Tensor noise = Tensor::host_from({1.0f, 0.3f, -0.7f, 2.0f}, {1, 1, 2, 2});
  for (const char* solver : {"euler", "unipc"}) {
    SamplerOptions options;
    options.solver = solver;
    options.steps = 6;
    options.shift = 3.0;
    std::unique_ptr<Sampler> sampler = make_sampler(options);
    OracleDenoiser denoiser(clean, noise);
    // Start from the schedule's first noise level: x = (1 - s) x0 + s noise.
    std::vector<float> start = noise.to_floats();
    const std::vector<float> clean_values = clean.to_floats();
    const double sigma = sampler->sigma(0);
    for (size_t i = 0; i < start.size(); ++i)
      start[i] = static_cast<float>((1 - sigma) * clean_values[i] + sigma * start[i]);
    const Tensor result = run_sampling(denoiser, *sampler, Tensor::host_from(start, {1, 1, 2, 2}), "test");
    ASSERT_EQ(denoiser.timesteps.size(), 6u) << solver;
    for (int step = 0; step < 6; ++step)
      EXPECT_EQ(denoiser.timesteps[step], sampler->timestep(step)) << solver;
    const std::vector<float> values = result.to_floats();
    for (size_t i = 0; i < values.size(); ++i) EXPECT_NEAR(values[i], clean_values[i], 1e-4) << solver;
  }
}

class FakeRunner : public Runner {
 public:
  explicit FakeRunner(RunnerArguments arguments) : arguments(std::move(arguments)) {}
  void check_request(const GenerationRequest&) const override {}
  std::vector<std::string> describe(const GenerationRequest&, std::vector<std::string>*) const override {
    return {"fake"};
  }
  void run(const GenerationRequest&) override {}
  VideoSummary video() const override { return {}; }
  const std::vector<StageReport>& stage_reports() const override { return reports_; }
  RunnerArguments arguments;

 private:
  std::vector<StageReport> reports_;
};

TEST(Runners, ModelClassAndTaskSelectTheRunner) {
  RunnerRegistry registry;
  registry.add(RunnerEntry{"fake1", {"t2v", "i2v"}, [](const RunnerArguments& arguments, Device&) {
                             return std::make_unique<FakeRunner>(arguments);
                           }});
  const auto runner = registry.create(RunnerArguments{"fake1", "i2v", "/models/x", "", false}, host_device());
  EXPECT_EQ(dynamic_cast<FakeRunner&>(*runner).arguments.model_path, "/models/x");
  testing::expect_error_mentioning([&] { registry.check("fake2", "t2v"); },
                                   "unknown --model_cls 'fake2'; supported: fake1");
  testing::expect_error_mentioning([&] { registry.check("fake1", "s2v"); },
                                   "unsupported --task 's2v' for fake1; supported: t2v, i2v");
  EXPECT_THROW(registry.add(RunnerEntry{"fake1", {"t2v"}, nullptr}), InternalError);
}

TEST(Runners, BuiltInsAreWan21AndLightX2VFamiliesNotBuiltAreNamed) {
  EXPECT_EQ(runners().model_classes(), (std::vector<std::string>{"wan2.1", "wan2.1_distill", "wan2.2_moe",
                                                                 "wan2.2_moe_distill", "wan2.2"}));
  testing::expect_error_mentioning([&] { runners().check("wan2.2_s2v", "t2v"); },
                                   "x2v runs wan2.2 (TI2V-5B)");
  runners().check("wan2.2", "i2v");
  runners().check("wan2.1", "i2v");
  testing::expect_error_mentioning([&] { runners().check("wan2.1", "flf2v"); },
                                   "unsupported --task 'flf2v' for wan2.1; supported: t2v, i2v");
}

}  // namespace
}  // namespace x2v
