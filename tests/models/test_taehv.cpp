// TAEHV's decoder (use_tae) against madebyollin's taehv.py (fixtures from
// tools/reference/make_taehv_fixtures.py): the decoder's weights are regenerated here with x2v's
// torch-identical generator from the fixture's recipe, written as .safetensors and as .pth, and both decode
// the reference's latents into its frames.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "fixtures.h"
#include "io/pth_writer.h"
#include "io/safetensors.h"
#include "models/wan/taehv.h"
#include "support/test_device.h"
#include "support/test_helpers.h"

namespace x2v {
namespace {

namespace fs = std::filesystem;
using testing::expect_error_mentioning;
using testing::load_fixture;
using testing::read_json;
using testing::test_device;

using Tensors = std::vector<std::pair<std::string, Tensor>>;

Tensors decoder_weights() {
  return testing::recipe_tensors(read_json("taehv/decoder_weights.json"));
}

// All frames of a decode, [3, T, H, W] in [-1, 1].
Tensor decode_all(const TaehvDecoder& decoder, const Tensor& latents) {
  std::vector<Tensor> frames;
  decoder.decode(latents, [&](const Tensor& frame) { frames.push_back(frame.to_host(DType::f32)); });
  if (frames.empty()) return Tensor();
  const int64_t height = frames[0].size(2), width = frames[0].size(3), plane = height * width;
  Tensor all = Tensor::host({3, static_cast<int64_t>(frames.size()), height, width}, DType::f32);
  for (size_t t = 0; t < frames.size(); ++t)
    for (int64_t c = 0; c < 3; ++c)
      std::copy_n(
          frames[t].data<float>() + c * plane, plane,
          all.data<float>() + (c * static_cast<int64_t>(frames.size()) + static_cast<int64_t>(t)) * plane);
  return all;
}

struct TemporaryFolder {
  fs::path path = fs::temp_directory_path() / ("x2v_taehv_" + std::to_string(::getpid()));
  TemporaryFolder() { fs::create_directories(path); }
  ~TemporaryFolder() { fs::remove_all(path); }
};

TEST(Taehv, DecodesAsTheReferenceFromBothCheckpointFormats) {
  TemporaryFolder folder;
  const Tensors weights = decoder_weights();
  // x2v's list of the decoder's tensors (make-tiny-model writes it) is the reference's.
  const auto shapes = taehv_decoder_tensor_shapes();
  ASSERT_EQ(shapes.size(), weights.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    EXPECT_EQ(shapes[i].first, weights[i].first);
    EXPECT_EQ(shapes[i].second, weights[i].second.shape()) << shapes[i].first;
  }
  const std::string safetensors = (folder.path / "taew2_1.safetensors").string();
  const std::string pth = (folder.path / "taew2_1.pth").string();
  io::write_safetensors(safetensors, weights);
  io::write_pth(pth, weights);
  const Tensor latents = load_fixture("taehv/decode.safetensors", "latents");
  Tensor expected = load_fixture("taehv/decode.safetensors", "frames");
  for (float& value : std::span(expected.data<float>(), static_cast<size_t>(expected.numel())))
    value = value * 2.0f - 1.0f;
  for (const std::string& path : {safetensors, pth}) {
    const auto decoder = TaehvDecoder::open(path, test_device(), /*need_scaled=*/false);
    const Tensor frames = decode_all(*decoder, latents);
    ASSERT_EQ(frames.shape(), expected.shape()) << path;  // 4 * 3 - 3 frames of 8x the latent size
    const std::vector<float> a = frames.to_floats(), e = expected.to_floats();
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - e[i]));
    EXPECT_LE(worst, 4e-3) << path;  // of a [-1, 1] range; the reference's own two modes differ by 4e-4
  }
  // bf16, as x2v infer runs it (LightX2V's dtype): the project's bf16 tolerance.
  const auto decoder = TaehvDecoder::open(safetensors, test_device(), false, DType::bf16);
  const Tensor frames = decode_all(*decoder, latents);
  ASSERT_EQ(frames.shape(), expected.shape());
  EXPECT_GE(testing::cosine_similarity(frames, expected), 0.999);
}

TEST(Taehv, LightTaeUnscalesTheLatentsAsLightX2VDoes) {
  // need_scaled (lighttaew2_1): the frames of LightX2V's WanVAE_tiny wrapper, already in [-1, 1].
  TemporaryFolder folder;
  const std::string path = (folder.path / "lighttaew2_1.safetensors").string();
  io::write_safetensors(path, decoder_weights());
  const Tensor latents = load_fixture("taehv/decode.safetensors", "latents");
  const Tensor expected = load_fixture("taehv/decode.safetensors", "frames_need_scaled");
  const auto decoder = TaehvDecoder::open(path, test_device(), /*need_scaled=*/true);
  const Tensor frames = decode_all(*decoder, latents);
  ASSERT_EQ(frames.shape(), expected.shape());
  const std::vector<float> a = frames.to_floats(), e = expected.to_floats();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - e[i]));
  EXPECT_LE(worst, 4e-3);
  // Without the un-scaling the frames differ: the test sees need_scaled.
  const Tensor unscaled = decode_all(*TaehvDecoder::open(path, test_device(), false), latents);
  EXPECT_LT(testing::cosine_similarity(unscaled, expected), 0.99);
}

TEST(Taehv, AnotherFamilysCheckpointIsNamed) {
  TemporaryFolder folder;
  Tensors weights = decoder_weights();
  for (auto& [name, tensor] : weights)
    if (name == "decoder.1.weight") tensor = Tensor::host({256, 48, 3, 3}, DType::f32);
  const std::string path = (folder.path / "taew2_2.safetensors").string();
  io::write_safetensors(path, weights);
  expect_error_mentioning([&] { TaehvDecoder::open(path, test_device(), false); }, "48 latent channels");
  weights.pop_back();
  io::write_safetensors(path, {{"encoder.0.weight", Tensor::host({64, 3, 3, 3}, DType::f32)}});
  expect_error_mentioning([&] { TaehvDecoder::open(path, test_device(), false); }, "not a TAEHV checkpoint");
}

}  // namespace
}  // namespace x2v
