#include "models/wan/t5_weights.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

namespace x2v {
namespace {

// Wan name (after "blocks.N.") -> transformers name (after "encoder.block.N.").
const std::vector<std::pair<std::string, std::string>> kBlockNames = {
    {"norm1.weight", "layer.0.layer_norm.weight"},
    {"attn.q.weight", "layer.0.SelfAttention.q.weight"},
    {"attn.k.weight", "layer.0.SelfAttention.k.weight"},
    {"attn.v.weight", "layer.0.SelfAttention.v.weight"},
    {"attn.o.weight", "layer.0.SelfAttention.o.weight"},
    {"pos_embedding.embedding.weight", "layer.0.SelfAttention.relative_attention_bias.weight"},
    {"norm2.weight", "layer.1.layer_norm.weight"},
    {"ffn.gate.0.weight", "layer.1.DenseReluDense.wi_0.weight"},
    {"ffn.fc1.weight", "layer.1.DenseReluDense.wi_1.weight"},
    {"ffn.fc2.weight", "layer.1.DenseReluDense.wo.weight"}};

constexpr const char* kWanEmbedding = "token_embedding.weight";
constexpr const char* kSharedEmbedding = "shared.weight";
constexpr const char* kEncoderEmbedding = "encoder.embed_tokens.weight";

// The name of the checkpoint's tensor that ends in `suffix` at a name boundary, or "".
std::string find_ending(const io::Checkpoint& checkpoint, const std::string& suffix) {
  for (const std::string& name : checkpoint.names())
    if (name.ends_with(suffix) &&
        (name.size() == suffix.size() || name[name.size() - suffix.size() - 1] == '.'))
      return name;
  return {};
}

int64_t count_blocks(const io::Checkpoint& checkpoint, const std::string& block_prefix) {
  int64_t count = 0;
  for (const std::string& name : checkpoint.names()) {
    if (!name.starts_with(block_prefix)) continue;
    const std::string rest = name.substr(block_prefix.size());
    const size_t dot = rest.find('.');
    if (dot == 0 || dot == std::string::npos || dot > 9 ||
        !std::all_of(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(dot),
                     [](unsigned char c) { return std::isdigit(c) != 0; }))
      continue;
    count = std::max<int64_t>(count, std::stoll(rest.substr(0, dot)) + 1);
  }
  return count;
}

}  // namespace

std::string T5Config::describe() const {
  return concat("umT5 encoder dim ", dim, ", ", num_layers, " layers, ", num_heads, " heads x ",
                num_heads ? dim_attn / num_heads : 0, ", ffn ", dim_ffn, ", vocab ", vocab_size);
}

std::string t5_transformers_name(const std::string& wan_name) {
  if (wan_name == kWanEmbedding) return kSharedEmbedding;
  if (wan_name == "norm.weight") return "encoder.final_layer_norm.weight";
  if (wan_name.starts_with("blocks.")) {
    const size_t dot = wan_name.find('.', 7);
    const std::string index = wan_name.substr(7, dot - 7), rest = wan_name.substr(dot + 1);
    for (const auto& [wan, transformers] : kBlockNames)
      if (rest == wan) return concat("encoder.block.", index, ".", transformers);
  }
  return wan_name;
}

std::vector<std::pair<std::string, Shape>> t5_tensor_shapes(const T5Config& c) {
  std::vector<std::pair<std::string, Shape>> shapes = {{kWanEmbedding, {c.vocab_size, c.dim}}};
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string block = concat("blocks.", i, ".");
    shapes.insert(shapes.end(), {{block + "norm1.weight", {c.dim}},
                                 {block + "attn.q.weight", {c.dim_attn, c.dim}},
                                 {block + "attn.k.weight", {c.dim_attn, c.dim}},
                                 {block + "attn.v.weight", {c.dim_attn, c.dim}},
                                 {block + "attn.o.weight", {c.dim, c.dim_attn}},
                                 {block + "pos_embedding.embedding.weight", {c.num_buckets, c.num_heads}},
                                 {block + "norm2.weight", {c.dim}},
                                 {block + "ffn.gate.0.weight", {c.dim_ffn, c.dim}},
                                 {block + "ffn.fc1.weight", {c.dim_ffn, c.dim}},
                                 {block + "ffn.fc2.weight", {c.dim, c.dim_ffn}}});
  }
  shapes.push_back({"norm.weight", {c.dim}});
  return shapes;
}

T5Weights::T5Weights(const io::Checkpoint& checkpoint) : checkpoint_(checkpoint) {
  const std::string& path = checkpoint.path();
  if (const std::string wan = find_ending(checkpoint, kWanEmbedding); !wan.empty()) {
    naming_ = T5WeightNaming::wan;
    prefix_ = wan.substr(0, wan.size() - std::string(kWanEmbedding).size());
  } else {
    // transformers ties shared.weight and encoder.embed_tokens.weight; exports keep one or both.
    std::string found = find_ending(checkpoint, kSharedEmbedding);
    std::string suffix = kSharedEmbedding;
    if (found.empty()) {
      found = find_ending(checkpoint, kEncoderEmbedding);
      suffix = kEncoderEmbedding;
    }
    if (found.empty())
      throw Error("t5", concat(path, " has no '", kWanEmbedding, "' (Wan names) nor '", kSharedEmbedding,
                               "' / '", kEncoderEmbedding,
                               "' (transformers UMT5 names): it is not a umT5 encoder checkpoint"));
    naming_ = T5WeightNaming::transformers;
    prefix_ = found.substr(0, found.size() - suffix.size());
    embedding_name_ = suffix;
  }

  const Shape embedding = shape_of(kWanEmbedding);
  if (embedding.size() != 2)
    throw Error("t5", concat("tensor '", file_name(kWanEmbedding), "' has shape ", shape_to_string(embedding),
                             "; expected [vocab, dim]"));
  config_.vocab_size = embedding[0];
  config_.dim = embedding[1];
  config_.num_layers =
      count_blocks(checkpoint, prefix_ + (naming_ == T5WeightNaming::wan ? "blocks." : "encoder.block."));
  if (config_.num_layers == 0)
    throw Error("t5", concat(path, " has an embedding but no encoder blocks; the checkpoint is incomplete"));
  const auto dim0 = [&](const std::string& name) {
    const Shape shape = shape_of(name);
    if (shape.size() != 2)
      throw Error("t5", concat("tensor '", file_name(name), "' has shape ", shape_to_string(shape),
                               "; expected 2 dims"));
    return shape;
  };
  config_.dim_attn = dim0("blocks.0.attn.q.weight")[0];
  config_.dim_ffn = dim0("blocks.0.ffn.fc1.weight")[0];
  const Shape positions = dim0("blocks.0.pos_embedding.embedding.weight");
  config_.num_buckets = positions[0];
  config_.num_heads = positions[1];
  if (config_.num_heads <= 0 || config_.dim_attn % config_.num_heads != 0)
    throw Error("t5", concat("the position table '", file_name("blocks.0.pos_embedding.embedding.weight"),
                             "' ", shape_to_string(positions), " gives ", config_.num_heads,
                             " heads, which do not divide the attention width ", config_.dim_attn));
  if (config_.num_buckets < 4 || config_.num_buckets % 2 != 0)
    throw Error("t5",
                concat("the position table '", file_name("blocks.0.pos_embedding.embedding.weight"), "' has ",
                       config_.num_buckets, " buckets; expected an even number >= 4 (umT5: 32)"));
}

std::string T5Weights::file_name(const std::string& wan_name) const {
  if (naming_ == T5WeightNaming::wan) return prefix_ + wan_name;
  if (wan_name == kWanEmbedding) return prefix_ + embedding_name_;
  return prefix_ + t5_transformers_name(wan_name);
}

Shape T5Weights::shape_of(const std::string& wan_name) const {
  const std::string name = file_name(wan_name);
  if (!checkpoint_.contains(name))
    throw Error("t5", concat(checkpoint_.path(), " has no tensor '", name,
                             "'; the checkpoint is incomplete or not a umT5 encoder"));
  return checkpoint_.info(name).shape;
}

io::TensorInfo T5Weights::info(const std::string& wan_name, const Shape& expected) const {
  const std::string name = file_name(wan_name);
  if (!checkpoint_.contains(name))
    throw Error("t5", concat(checkpoint_.path(), " has no tensor '", name, "' (a ", config_.describe(),
                             " needs it); the checkpoint is incomplete or of another model"));
  io::TensorInfo found = checkpoint_.info(name);
  if (found.shape != expected)
    throw Error("t5", concat("tensor '", name, "' has shape ", shape_to_string(found.shape), ", expected ",
                             shape_to_string(expected), " for a ", config_.describe()));
  return found;
}

Tensor T5Weights::load(const std::string& wan_name, const Shape& expected) const {
  info(wan_name, expected);
  return checkpoint_.load(file_name(wan_name));
}

}  // namespace x2v
