// LoRA merging (quant/lora.h) against LightX2V's own LoRA loader: tests/fixtures/lora, written by
// tools/reference/make_lora_fixtures.py (lora_up/lora_down with and without alpha, lora_A/lora_B, .diff,
// .diff_b, .diff_m, a "diffusion_model." prefix, original and diffusers names, two LoRAs in order, a global
// alpha). Then every other layout LightX2V reads gives the same merge, and bad LoRAs are Errors naming the
// key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include "core/dtype.h"
#include "io/safetensors.h"
#include "models/wan/dit_weights.h"
#include "pipeline/convert.h"
#include "quant/lora.h"

namespace x2v {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& relative) {
  return std::string(X2V_FIXTURES_DIR) + "/" + relative;
}

const std::string kOriginal = fixture("wan_dit/t2v/model_original");
const std::string kDiffusers = fixture("wan_dit/t2v/model_diffusers");
const std::string kLoraWan = fixture("lora/lora_wan_up_down.safetensors");
const std::string kLoraDiffusers = fixture("lora/lora_diffusers_a_b.safetensors");
const std::string kReference = fixture("lora/merged_reference.safetensors");

struct Scratch {
  fs::path path;
  Scratch() {
    static int counter = 0;
    path = fs::temp_directory_path() / concat("x2v-lora-", ::getpid(), "-", counter++);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Scratch() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// The merge of `configs` into the DiT at `model`, for the tensors they change, by original name.
std::map<std::string, Tensor> merged(const std::string& model, const std::vector<LoraConfig>& configs,
                                     bool in_f32) {
  const auto source = ConvertSource::open(ConvertModelType::wan_dit, model);
  const io::Checkpoint& checkpoint = source->checkpoint();
  const LoraMerge merge(configs, checkpoint,
                        [&](const std::string& target) { return source->resolve_lora_target(target); });
  std::map<std::string, Tensor> result;
  for (const std::string& name : checkpoint.names()) {
    if (!merge.changes(name)) continue;
    const Tensor stored = checkpoint.load(name);
    const Tensor tensor = merge.apply(name, in_f32 ? stored.to_host(DType::f32) : stored);
    EXPECT_EQ(tensor.dtype(), in_f32 ? DType::f32 : stored.dtype()) << name;
    result.emplace(source->canonical(name), tensor);
  }
  EXPECT_EQ(result.size(), merge.changed_tensor_count());
  return result;
}

// `actual` holds exactly the reference's tensors "<scenario>/<name>": in f32 to rounding, in bf16 to the
// rounding of the reference's f32 value (one bf16 step).
void expect_reference(const std::map<std::string, Tensor>& actual, const std::string& scenario) {
  auto reference = io::open_checkpoint(kReference);
  size_t expected_count = 0;
  for (const std::string& key : reference->names()) {
    if (key.rfind(scenario + "/", 0) != 0) continue;
    ++expected_count;
    const std::string name = key.substr(scenario.size() + 1);
    const auto found = actual.find(name);
    ASSERT_NE(found, actual.end()) << name << " was not changed";
    const std::vector<float> want = reference->load(key).to_floats();
    const std::vector<float> got = found->second.to_floats();
    ASSERT_EQ(got.size(), want.size()) << name;
    double max_error = 0, max_value = 1e-30;
    size_t beyond_a_bf16_step = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const double error = std::fabs(static_cast<double>(got[i]) - want[i]);
      max_error = std::max(max_error, error);
      max_value = std::max(max_value, std::fabs(static_cast<double>(want[i])));
      // The reference's value rounded to bf16, give or take one bf16 step.
      const double step =
          std::fabs(bf16_to_float(float_to_bf16(want[i])) - want[i]) + std::ldexp(std::fabs(want[i]), -7);
      if (error > step) ++beyond_a_bf16_step;
    }
    if (found->second.dtype() == DType::f32) {
      EXPECT_LE(max_error / max_value, 1e-6) << name;
    } else {
      EXPECT_EQ(beyond_a_bf16_step, 0u) << name << " (" << found->second.describe() << ")";
    }
  }
  EXPECT_GT(expected_count, 0u);
  EXPECT_EQ(actual.size(), expected_count) << "a LoRA changed a tensor the reference does not";
}

const std::vector<LoraConfig> kTwoLoras = {{kLoraWan, 0.8, std::nullopt},
                                           {kLoraDiffusers, 0.5, std::nullopt}};

TEST(Lora, TwoLorasInOrderMatchLightX2V) {
  expect_reference(merged(kOriginal, kTwoLoras, /*in_f32=*/true), "two_loras");
  expect_reference(merged(kOriginal, kTwoLoras, /*in_f32=*/false), "two_loras");
}

TEST(Lora, GlobalAlphaMatchesLightX2V) {
  expect_reference(merged(kOriginal, {{kLoraWan, 1.0, 2.0}}, true), "global_alpha");
}

TEST(Lora, DiffusersNamedModelGetsTheSameMerge) {
  const auto original = merged(kOriginal, kTwoLoras, false);
  const auto diffusers = merged(kDiffusers, kTwoLoras, false);
  ASSERT_EQ(original.size(), diffusers.size());
  for (const auto& [name, tensor] : original) {
    ASSERT_TRUE(diffusers.count(name)) << name;
    EXPECT_EQ(tensor.to_floats(), diffusers.at(name).to_floats()) << name;
  }
}

// Rewrites the pairs of lora_diffusers_a_b into another layout (and prefix); the merge must not change.
std::string rewrite_lora(const Scratch& scratch, const std::string& up, const std::string& down,
                         const std::string& prefix) {
  auto file = io::open_checkpoint(kLoraDiffusers);
  std::vector<std::pair<std::string, Tensor>> tensors;
  const auto replace = [](std::string name, const std::string& from, const std::string& to) {
    return name.substr(0, name.size() - from.size()) + to;
  };
  for (const std::string& name : file->names()) {
    std::string renamed = name;
    if (name.ends_with(".lora_B.weight")) renamed = replace(name, ".lora_B.weight", up);
    if (name.ends_with(".lora_A.weight")) renamed = replace(name, ".lora_A.weight", down);
    tensors.emplace_back(prefix + renamed, file->load(name));
  }
  const std::string path = scratch / concat("lora", up, prefix, ".safetensors");
  io::write_safetensors(path, tensors);
  return path;
}

TEST(Lora, EveryLayoutLightX2VReadsMergesTheSame) {
  Scratch scratch;
  const auto expected = merged(kOriginal, {{kLoraDiffusers, 0.5, std::nullopt}}, true);
  const std::pair<const char*, const char*> layouts[] = {
      {".lora_up.weight", ".lora_down.weight"},
      {"_lora.up.weight", "_lora.down.weight"},
      {".lora.up.weight", ".lora.down.weight"},
      {".lora_B", ".lora_A"},
      {".lora_linear_layer.up.weight", ".lora_linear_layer.down.weight"},
      {".lora_B.default.weight", ".lora_A.default.weight"}};
  const char* prefixes[] = {"", "diffusion_model.", "model.", "unet.", "transformer."};
  int index = 0;
  for (const auto& [up, down] : layouts) {
    const std::string path = rewrite_lora(scratch, up, down, prefixes[index++ % 5]);
    const auto actual = merged(kOriginal, {{path, 0.5, std::nullopt}}, true);
    ASSERT_EQ(actual.size(), expected.size()) << up;
    for (const auto& [name, tensor] : expected)
      EXPECT_EQ(actual.at(name).to_floats(), tensor.to_floats()) << up;
  }
}

void expect_lora_error(const std::string& model, const std::string& lora, const std::string& text) {
  try {
    merged(model, {{lora, 1.0, std::nullopt}}, false);
    ADD_FAILURE() << "expected an error mentioning '" << text << "'";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(text), std::string::npos) << error.what();
  }
}

TEST(Lora, BadLorasAreErrorsNamingTheKey) {
  Scratch scratch;
  expect_lora_error(
      kOriginal, fixture("lora/lora_unmatched.safetensors"),
      "'diffusion_model.blocks.7.self_attn.q.lora_up.weight' changes 'blocks.7.self_attn.q.weight'");
  expect_lora_error(kOriginal, fixture("lora/lora_bad_shape.safetensors"),
                    "does not fit 'blocks.0.self_attn.k.weight': up [100, 2] x down [2, 128]");
  const auto write = [&](const std::string& name, const std::vector<std::string>& keys) {
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const std::string& key : keys) tensors.emplace_back(key, Tensor::host({128, 2}, DType::f32));
    io::write_safetensors(scratch / name, tensors);
    return scratch / name;
  };
  expect_lora_error(kOriginal, write("unknown.safetensors", {"blocks.0.self_attn.q.hada_w1_a"}),
                    "'blocks.0.self_attn.q.hada_w1_a' is not a LoRA tensor");
  expect_lora_error(kOriginal, write("half.safetensors", {"blocks.0.self_attn.q.lora_up.weight"}),
                    "has no 'blocks.0.self_attn.q.lora_down.weight'");
  expect_lora_error(kOriginal, write("down.safetensors", {"blocks.0.self_attn.q.lora_A.weight"}),
                    "has no up matrix");
  expect_lora_error(kOriginal,
                    write("mid.safetensors",
                          {"blocks.0.self_attn.q.lora_up.weight", "blocks.0.self_attn.q.lora_down.weight",
                           "blocks.0.self_attn.q.lora_mid.weight"}),
                    "LoCon");
  expect_lora_error(kOriginal, write("empty.safetensors", {}), "holds no LoRA tensors");
  EXPECT_THROW(read_lora({kLoraWan, NAN, std::nullopt}), Error);

  // A quantized weight has no float values to add to.
  ConvertOptions options;
  options.source = kOriginal;
  options.output = scratch / "int8";
  options.linear_type = QuantFormat::int8;
  convert_checkpoint(options);
  expect_lora_error(scratch / "int8", kLoraWan, "is stored i8");
}

TEST(Lora, ConfigsComeFromAnInferConfigsLoraConfigs) {
  const io::Config config(
      nlohmann::json::parse(R"({"lora_configs": [{"path": "a.safetensors", "strength": 0.5},
                                                                      {"path": "b.safetensors"}]})"),
      "wan.json");
  const std::vector<LoraConfig> configs = lora_configs_from(config);
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(configs[0].path, "a.safetensors");
  EXPECT_EQ(configs[0].strength, 0.5);
  EXPECT_EQ(configs[1].strength, 1.0);
  EXPECT_TRUE(lora_configs_from(io::Config()).empty());
  try {
    lora_configs_from(
        io::Config(nlohmann::json::parse(R"({"lora_configs": [{"strength": 1}]})"), "wan.json"));
    ADD_FAILURE() << "a lora_configs entry without a path was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("lora_configs[0].path"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace x2v
