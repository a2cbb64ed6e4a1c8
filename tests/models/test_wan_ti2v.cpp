// Wan2.2 TI2V-5B image to video against the official Wan2.2 loop (fixture from
// tools/reference/make_ti2v_fixtures.py: textimage2video.py's i2v() with a small TI2V DiT): the first latent
// frame held at the image's latent before and after every step, its tokens at timestep 0, CFG, 4 UniPC steps.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "io/memory_checkpoint.h"
#include "pipeline/wan_i2v.h"
#include "pipeline/wan_sampling.h"
#include "support/test_device.h"

namespace x2v {
namespace {

using testing::load_fixture;
using testing::read_json;
using testing::relative_error;
using testing::test_device;

Tensor fixture(const std::string& name) {
  return load_fixture("wan_ti2v/ti2v.safetensors", name);
}

TEST(WanTi2v, FirstFrameHeldAndAtTimestepZeroAsTheOfficialLoop) {
  const nlohmann::json ti2v = read_json("wan_ti2v/ti2v.json");
  auto memory = std::make_unique<io::MemoryCheckpoint>("ti2v fixture");
  for (const auto& [name, tensor] : testing::recipe_tensors(ti2v["weights"])) memory->add(name, tensor);
  const io::Config config(ti2v["config"], "ti2v.json config");
  const WanDitCheckpoint checkpoint = WanDitCheckpoint::from_checkpoint(std::move(memory), &config);
  const WanDit model(checkpoint, WanDitKernels{}, Precision{DType::f32, DType::f32}, test_device());
  const WanSamplingOptions options =
      WanSamplingOptions::from_config(io::Config(ti2v["run"], "ti2v.json run"));
  WanSamplingInputs inputs;
  inputs.noise = fixture("noise");
  inputs.context = fixture("context");
  inputs.context_null = fixture("context_null");
  inputs.first_frame_latent = fixture("z");
  const Tensor expected = fixture("latents");
  const Tensor latents = sample_wan_latents(model, inputs, options);
  EXPECT_LE(relative_error(latents, expected), testing::kModelF32Tolerance);
  // The first frame is the image's latent exactly.
  EXPECT_EQ(relative_error(latents.slice(1, 0, 1).to_host(DType::f32), fixture("z")), 0.0);
  // Without the per-token timestep and the hold the run is another one: the test sees both.
  WanSamplingInputs plain = inputs;
  plain.first_frame_latent = Tensor();
  plain.noise = fixture("noise");
  EXPECT_GT(relative_error(sample_wan_latents(model, plain, options), expected), 1e-2);
}

TEST(WanTi2v, OutputSizeIsTheOfficialBestOutputSize) {
  int checked = 0;
  const nlohmann::json ti2v = read_json("wan_ti2v/ti2v.json");
  for (const nlohmann::json& entry : ti2v["shapes"]) {
    WanVideoShape target;
    target.height = entry["target"][0].get<int64_t>();
    target.width = entry["target"][1].get<int64_t>();
    const WanVideoShape shape =
        wan_ti2v_video_shape(target, entry["image"][0].get<int64_t>(), entry["image"][1].get<int64_t>());
    EXPECT_EQ(shape.height, entry["output"][0].get<int64_t>()) << entry.dump();
    EXPECT_EQ(shape.width, entry["output"][1].get<int64_t>()) << entry.dump();
    ++checked;
  }
  EXPECT_GE(checked, 7);
  // The first frame covers the size and is centre-cropped to it.
  const Tensor image = Tensor::host({3, 100, 150}, DType::f32);
  WanVideoShape shape;
  shape.height = 64;
  shape.width = 64;
  EXPECT_EQ(wan_ti2v_first_frame(image, shape).shape(), (Shape{3, 1, 64, 64}));
}

}  // namespace
}  // namespace x2v
