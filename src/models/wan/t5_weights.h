#pragma once
// umT5-XXL encoder checkpoints: the two naming schemes (the original Wan names of
// models_t5_umt5-xxl-enc-bf16.pth and transformers' UMT5EncoderModel names of a diffusers text_encoder/
// folder), detected from the keys, and the architecture, inferred from the tensor shapes.
#include <string>

#include "io/checkpoint.h"

namespace x2v {

struct T5Config {
  int64_t vocab_size = 0, dim = 0, dim_attn = 0, dim_ffn = 0, num_heads = 0, num_layers = 0;
  int64_t num_buckets = 32, max_distance = 128;

  int64_t head_dim() const { return dim_attn / num_heads; }
  std::string describe() const;
};

enum class T5WeightNaming { wan, transformers };

// A checkpoint seen through the Wan names. Borrows `checkpoint`, which must outlive it.
class T5Weights {
 public:
  // Throws Error when the checkpoint is not a umT5 encoder (no embedding under either naming, no blocks,
  // a position table that does not divide the attention width).
  explicit T5Weights(const io::Checkpoint& checkpoint);

  const T5Config& config() const { return config_; }
  T5WeightNaming naming() const { return naming_; }
  const io::Checkpoint& checkpoint() const { return checkpoint_; }
  // The name in this checkpoint of the tensor whose Wan name is `wan_name`.
  std::string file_name(const std::string& wan_name) const;
  // The tensor `wan_name` as stored (dtype unchanged, zero-copy where the format allows), its shape checked
  // against `expected`. Throws Error naming the file's tensor when it is missing or misshaped.
  Tensor load(const std::string& wan_name, const Shape& expected) const;
  // The stored dtype and shape of `wan_name`, with the same checks as load().
  io::TensorInfo info(const std::string& wan_name, const Shape& expected) const;

 private:
  Shape shape_of(const std::string& wan_name) const;

  const io::Checkpoint& checkpoint_;
  T5WeightNaming naming_ = T5WeightNaming::wan;
  std::string prefix_;          // before every name in some exports ("model.", "text_encoder.")
  std::string embedding_name_;  // transformers: "shared.weight" or "encoder.embed_tokens.weight"
  T5Config config_;
};

// transformers' UMT5EncoderModel name of a Wan T5 encoder tensor name (gate = wi_0, fc1 = wi_1, fc2 = wo),
// without a prefix; the token embedding maps to "shared.weight".
std::string t5_transformers_name(const std::string& wan_name);

// Every tensor of an encoder of `config` (Wan names) with its shape.
std::vector<std::pair<std::string, Shape>> t5_tensor_shapes(const T5Config& config);

}  // namespace x2v
