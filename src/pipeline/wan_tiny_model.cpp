#include "pipeline/wan_tiny_model.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <unistd.h>
#include <algorithm>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "io/pth_writer.h"
#include "io/safetensors.h"
#include "models/wan/clip_encoder.h"
#include "models/wan/dit_weights.h"
#include "models/wan/t5_weights.h"
#include "models/wan/taehv.h"
#include "models/wan/vae_weights.h"
#include "pipeline/wan_defaults.h"
#include "pipeline/wan_model_files.h"

namespace x2v {
namespace {

namespace fs = std::filesystem;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Counter-based generator (splitmix64): the same seed gives the same model on every machine.
class RandomNumbers {
 public:
  explicit RandomNumbers(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float uniform() {  // [-1, 1)
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(static_cast<double>(z >> 11) / 4503599627370496.0 - 1.0);
  }

 private:
  uint64_t state_;
};

// Weights with unit-variance outputs (uniform, variance 1/fan_in); norm scales 1; biases and modulation
// small, so activations stay O(1) through every layer.
Tensor random_tensor(const std::string& name, const Shape& shape, DType dtype, RandomNumbers& random) {
  std::vector<float> values(shape_numel(shape));
  const bool norm_scale = name.ends_with("gamma") || name.find("norm") != std::string::npos;
  if (norm_scale && shape.size() != 2) {
    std::fill(values.begin(), values.end(), 1.0f);
  } else {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    float bound = std::sqrt(3.0f / static_cast<float>(fan_in));
    if (shape.size() == 1 || name.find("modulation") != std::string::npos) bound = 0.02f;
    if (name.find("embedding.weight") != std::string::npos && name.find("token_") == 0) bound = 1.0f;
    for (float& value : values) value = bound * random.uniform();
  }
  return Tensor::host_from(values, shape).to_host(dtype);
}

NamedTensors random_tensors(const std::vector<std::pair<std::string, Shape>>& shapes, DType dtype,
                            RandomNumbers& random) {
  NamedTensors tensors;
  for (const auto& [name, shape] : shapes)
    tensors.emplace_back(name, random_tensor(name, shape, dtype, random));
  return tensors;
}

// Sentences for the tokenizer trainer: English scene descriptions, the official (Chinese) negative
// prompt, and a few symbols, so every prompt a newcomer types has pieces.
class CorpusIterator : public sentencepiece::SentenceIterator {
 public:
  CorpusIterator() {
    const std::vector<std::string> subjects = {"a cat",     "two dogs",   "an astronaut", "a red car",
                                               "the ocean", "a city",     "a small boat", "an old man",
                                               "a dancer",  "a mountain", "the forest",   "a robot"};
    const std::vector<std::string> actions = {
        "walking on the beach at sunset", "running through the snow",        "flying over green hills",
        "dancing in the rain at night",   "sitting by a window, soft light", "driving along a road"};
    const std::vector<std::string> styles = {"cinematic, 4k, detailed", "watercolor style, calm",
                                             "slow motion, shallow depth of field",
                                             "bright colors, sharp focus"};
    for (const auto& subject : subjects)
      for (const auto& action : actions)
        for (const auto& style : styles) sentences_.push_back(subject + " " + action + ", " + style + ".");
    sentences_.push_back(wan_default_negative_prompt());
    sentences_.push_back("一只猫在海边散步，日落，电影感，高清。城市夜景，下雨，霓虹灯。");
    sentences_.push_back(
        "Numbers 0 1 2 3 4 5 6 7 8 9 and symbols & < > \" ' ( ) [ ] ! ? : ; - + = / @ # % 🙂 🎬");
  }
  bool done() const override { return index_ >= sentences_.size(); }
  const std::string& value() const override { return sentences_[index_]; }
  void Next() override { ++index_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  std::vector<std::string> sentences_;
  size_t index_ = 0;
};

// A unigram sentencepiece model with umT5's special ids (pad 0, eos 1, unk 2, no bos) and byte fallback.
std::string train_tokenizer(int64_t vocab_size) {
  CorpusIterator corpus;
  std::string model;
  const std::unordered_map<std::string, std::string> arguments = {{"model_type", "unigram"},
                                                                  {"vocab_size", std::to_string(vocab_size)},
                                                                  {"hard_vocab_limit", "false"},
                                                                  {"pad_id", "0"},
                                                                  {"eos_id", "1"},
                                                                  {"unk_id", "2"},
                                                                  {"bos_id", "-1"},
                                                                  {"byte_fallback", "true"},
                                                                  {"character_coverage", "1.0"},
                                                                  {"num_threads", "1"},
                                                                  {"minloglevel", "2"}};
  const auto status = sentencepiece::SentencePieceTrainer::Train(arguments, &corpus, &model);
  if (!status.ok())
    throw InternalError("tiny model", concat("sentencepiece training failed: ", status.ToString()));
  return model;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
  if (!file) throw Error("tiny model", concat("cannot write ", path.string()));
}

}  // namespace

void write_tiny_wan_model(const std::string& directory, const TinyWanModelOptions& options) {
  const fs::path target = fs::absolute(directory);
  std::error_code error;
  if (fs::exists(target, error))
    throw Error("tiny model", concat(directory, " already exists; remove it or give a new folder"));
  if (!fs::is_directory(target.parent_path(), error))
    throw Error("tiny model", concat("the folder of ", directory, " does not exist; create it first"));
  // Built under a temporary name and renamed at the end: an interrupted run leaves no half model.
  const fs::path staging = target.string() + concat(".partial-", getpid());
  fs::remove_all(staging, error);
  fs::create_directories(staging / "google" / "umt5-xxl");
  try {
    RandomNumbers random(options.seed);

    const std::string tokenizer_model = train_tokenizer(options.vocab_size);
    write_text(staging / kWanTokenizerFile, tokenizer_model);
    sentencepiece::SentencePieceProcessor tokenizer;
    if (!tokenizer.LoadFromSerializedProto(tokenizer_model).ok())
      throw InternalError("tiny model", "the trained tokenizer does not load");
    const int64_t vocab = tokenizer.GetPieceSize();

    T5Config t5;
    t5.vocab_size = std::max(vocab, options.t5_vocab);
    t5.dim = t5.dim_attn = options.t5_dim;
    t5.dim_ffn = options.t5_ffn;
    t5.num_heads = options.t5_heads;
    t5.num_layers = options.t5_layers;
    io::write_pth((staging / kWanT5File).string(), random_tensors(t5_tensor_shapes(t5), DType::bf16, random));
    if (options.ti2v)
      io::write_pth(
          (staging / kWan22VaeFile).string(),
          random_tensors(wan22_vae_tensor_shapes(options.vae_dim, options.vae_dim, 48), DType::f32, random));
    else
      io::write_pth((staging / kWanVaeFile).string(),
                    random_tensors(wan_vae_tensor_shapes(options.vae_dim, 16), DType::f32, random));

    if (options.with_tae)
      io::write_safetensors((staging / "taew2_1.safetensors").string(),
                            random_tensors(taehv_decoder_tensor_shapes(), DType::f32, random));
    WanDitConfig dit;
    dit.dim = options.dit_dim;
    dit.num_heads = options.dit_heads;
    dit.num_layers = options.dit_layers;
    dit.ffn_dim = options.dit_ffn;
    dit.text_dim = options.t5_dim;
    if (options.ti2v) dit.in_dim = dit.out_dim = 48;
    if (options.i2v) {
      dit.in_dim = 36;  // 16 noise + 4 mask + 16 image latent channels
      // Wan2.2's I2V DiTs have no CLIP branch; Wan2.1's take CLIP features from its image encoder.
      dit.model_type = options.experts ? "t2v" : "i2v";
      dit.clip_dim = options.clip_dim;
    }
    if (options.i2v && !options.experts) {
      ClipVisionConfig clip;
      clip.dim = options.clip_dim;
      clip.num_heads = options.clip_dim / 80;
      clip.num_layers = options.clip_layers;
      clip.mlp_dim = 4 * options.clip_dim;
      clip.image_size = options.clip_image_size;
      io::write_pth((staging / kWanClipFile).string(),
                    random_tensors(clip_vision_tensor_shapes(clip), DType::f32, random));
    }
    const nlohmann::json config = {{"_class_name", "WanModel"},
                                   {"dim", dit.dim},
                                   {"eps", 1e-6},
                                   {"ffn_dim", dit.ffn_dim},
                                   {"freq_dim", dit.freq_dim},
                                   {"in_dim", dit.in_dim},
                                   {"model_type", options.i2v ? "i2v" : "t2v"},
                                   {"num_heads", dit.num_heads},
                                   {"num_layers", dit.num_layers},
                                   {"out_dim", dit.out_dim},
                                   {"text_len", dit.text_len}};
    // Each expert is a DiT of its own (different random weights) in its folder, as Wan2.2 A14B ships them.
    const std::vector<fs::path> dit_folders =
        options.experts ? std::vector<fs::path>{staging / "high_noise_model", staging / "low_noise_model"}
                        : std::vector<fs::path>{staging};
    for (const fs::path& folder : dit_folders) {
      fs::create_directories(folder);
      io::write_safetensors((folder / kWanDitFile).string(),
                            random_tensors(wan_dit_tensor_shapes(dit), DType::f32, random));
      write_text(folder / "config.json", config.dump(2) + "\n");
    }
    fs::rename(staging, target);
  } catch (...) {
    fs::remove_all(staging, error);
    throw;
  }
  log_info("tiny model", "wrote ", directory, " (DiT dim ", options.dit_dim, ", umT5 dim ", options.t5_dim,
           ", VAE dim ", options.vae_dim, ", vocabulary ", options.vocab_size, ")");
}

}  // namespace x2v
