#include "models/wan/clip_weights.h"

#include "core/error.h"
#include "core/text.h"
#include "models/wan/clip_encoder.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {

std::vector<std::pair<std::string, Shape>> clip_vision_tensor_shapes(const ClipVisionConfig& c) {
  const int64_t d = c.dim;
  std::vector<std::pair<std::string, Shape>> shapes = {
      {"visual.patch_embedding.weight", {d, 3, c.patch_size, c.patch_size}},
      {"visual.cls_embedding", {1, 1, d}},
      {"visual.pos_embedding", {1, c.tokens(), d}},
      {"visual.pre_norm.weight", {d}},
      {"visual.pre_norm.bias", {d}}};
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string name = concat("visual.transformer.", i, ".");
    for (const char* norm : {"norm1", "norm2"}) {
      shapes.push_back({name + norm + ".weight", {d}});
      shapes.push_back({name + norm + ".bias", {d}});
    }
    shapes.push_back({name + "attn.to_qkv.weight", {3 * d, d}});
    shapes.push_back({name + "attn.to_qkv.bias", {3 * d}});
    shapes.push_back({name + "attn.proj.weight", {d, d}});
    shapes.push_back({name + "attn.proj.bias", {d}});
    shapes.push_back({name + "mlp.0.weight", {c.mlp_dim, d}});
    shapes.push_back({name + "mlp.0.bias", {c.mlp_dim}});
    shapes.push_back({name + "mlp.2.weight", {d, c.mlp_dim}});
    shapes.push_back({name + "mlp.2.bias", {d}});
  }
  shapes.push_back({"visual.post_norm.weight", {d}});
  shapes.push_back({"visual.post_norm.bias", {d}});
  return shapes;
}

ClipVisualWeights::ClipVisualWeights(const io::Checkpoint& checkpoint) : checkpoint_(checkpoint) {
  diffusers_ = checkpoint.contains("vision_model.embeddings.patch_embedding.weight");
  prefix_ = checkpoint.contains("visual.patch_embedding.weight") ? "visual." : "";
  if (!diffusers_ && !checkpoint.contains(prefix_ + "patch_embedding.weight"))
    throw Error("clip",
                concat(checkpoint.path(), " has no 'visual.patch_embedding.weight' (nor diffusers' ",
                       "'vision_model.embeddings.patch_embedding.weight'); it is not Wan's CLIP image ",
                       "encoder (", kWanClipFile, " or a diffusers image_encoder/ folder)"));
}

std::vector<std::string> ClipVisualWeights::file_names(const std::string& name) const {
  if (!diffusers_) return {prefix_ + name};
  const std::string hf = "vision_model.";
  if (name == "patch_embedding.weight") return {hf + "embeddings.patch_embedding.weight"};
  if (name == "cls_embedding") return {hf + "embeddings.class_embedding"};
  if (name == "pos_embedding") return {hf + "embeddings.position_embedding.weight"};
  for (const auto& [ours, theirs] :
       {std::pair{"pre_norm.", "pre_layrnorm."}, {"post_norm.", "post_layernorm."}})
    if (name.starts_with(ours)) return {hf + theirs + name.substr(std::string(ours).size())};
  if (name.starts_with("transformer.")) {
    const size_t dot = name.find('.', 12);
    const std::string layer = name.substr(12, dot - 12), rest = name.substr(dot + 1);
    const std::string prefix = concat(hf, "encoder.layers.", layer, ".");
    const size_t kind = rest.rfind('.');
    const std::string part = rest.substr(0, kind), suffix = rest.substr(kind);  // ".weight" / ".bias"
    if (part == "attn.to_qkv")
      return {prefix + "self_attn.q_proj" + suffix, prefix + "self_attn.k_proj" + suffix,
              prefix + "self_attn.v_proj" + suffix};
    for (const auto& [ours, theirs] : {std::pair{"norm1", "layer_norm1"},
                                       {"norm2", "layer_norm2"},
                                       {"attn.proj", "self_attn.out_proj"},
                                       {"mlp.0", "mlp.fc1"},
                                       {"mlp.2", "mlp.fc2"}})
      if (part == ours) return {prefix + theirs + suffix};
  }
  return {hf + name};  // not one the encoder reads: reported as missing under a diffusers-looking name
}

bool ClipVisualWeights::contains(const std::string& name) const {
  for (const std::string& file : file_names(name))
    if (!checkpoint_.contains(file)) return false;
  return true;
}

io::TensorInfo ClipVisualWeights::info(const std::string& name) const {
  const std::string file = file_names(name).front();
  if (!checkpoint_.contains(file))
    throw Error("clip", concat(checkpoint_.path(), " has no tensor '", file, "'"));
  return checkpoint_.info(file);
}

Shape ClipVisualWeights::shape(const std::string& name) const {
  const std::vector<std::string> files = file_names(name);
  Shape shape = info(name).shape;
  if (files.size() == 3 && !shape.empty()) shape[0] *= 3;  // q, k and v stacked
  if (diffusers_ && name == "cls_embedding") shape = {1, 1, shape.empty() ? 0 : shape[0]};
  if (diffusers_ && name == "pos_embedding") shape.insert(shape.begin(), 1);
  return shape;
}

Tensor ClipVisualWeights::load(const std::string& name, const Shape& expected, DType dtype) const {
  const std::vector<std::string> files = file_names(name);
  for (const std::string& file : files)
    if (!checkpoint_.contains(file))
      throw Error("clip", concat(checkpoint_.path(), " has no tensor '", file, "'"));
  Tensor value;
  if (files.size() == 1) {
    value = checkpoint_.load(files[0], dtype);
  } else {
    // diffusers' q, k and v, stacked into Wan's to_qkv.
    std::vector<Tensor> parts;
    int64_t rows = 0;
    for (const std::string& file : files) {
      parts.push_back(checkpoint_.load(file, dtype));
      rows += parts.back().size(0);
    }
    Shape shape = parts[0].shape();
    shape[0] = rows;
    value = Tensor::host(shape, dtype);
    int64_t row = 0;
    for (const Tensor& part : parts) {
      Tensor target = value.slice(0, row, row + part.size(0));
      ops::copy(part, target);
      row += part.size(0);
    }
  }
  if (value.numel() == shape_numel(expected) && value.shape() != expected && diffusers_ &&
      (name == "cls_embedding" || name == "pos_embedding"))
    value = value.reshape(expected);
  if (value.shape() != expected)
    throw Error("clip", concat("tensor '", files[0], "' of ", checkpoint_.path(), " has shape ",
                               shape_to_string(value.shape()), ", expected ", shape_to_string(expected)));
  return value;
}

}  // namespace x2v
