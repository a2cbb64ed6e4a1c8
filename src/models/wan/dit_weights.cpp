#include "models/wan/dit_weights.h"

#include <filesystem>
#include <utility>
#include <vector>

#include "core/log.h"
#include "platform/ops.h"
#include "platform/platform.h"
#include "quant/quantized_linear.h"

namespace x2v {
namespace {

// Original -> diffusers prefixes inside a block, then at the top level. norm3 (original, affine) is
// diffusers' norm2: the two formats swap the names.
const std::vector<std::pair<std::string, std::string>> kBlockNames = {
    {"self_attn.q.", "attn1.to_q."},
    {"self_attn.k.", "attn1.to_k."},
    {"self_attn.v.", "attn1.to_v."},
    {"self_attn.o.", "attn1.to_out.0."},
    {"self_attn.norm_q.", "attn1.norm_q."},
    {"self_attn.norm_k.", "attn1.norm_k."},
    {"cross_attn.q.", "attn2.to_q."},
    {"cross_attn.k_img.", "attn2.add_k_proj."},
    {"cross_attn.v_img.", "attn2.add_v_proj."},
    {"cross_attn.norm_k_img.", "attn2.norm_added_k."},
    {"cross_attn.k.", "attn2.to_k."},
    {"cross_attn.v.", "attn2.to_v."},
    {"cross_attn.o.", "attn2.to_out.0."},
    {"cross_attn.norm_q.", "attn2.norm_q."},
    {"cross_attn.norm_k.", "attn2.norm_k."},
    {"norm3.", "norm2."},
    {"ffn.0.", "ffn.net.0.proj."},
    {"ffn.2.", "ffn.net.2."},
    {"modulation", "scale_shift_table"}};
const std::vector<std::pair<std::string, std::string>> kTopNames = {
    {"text_embedding.0.", "condition_embedder.text_embedder.linear_1."},
    {"text_embedding.2.", "condition_embedder.text_embedder.linear_2."},
    {"time_embedding.0.", "condition_embedder.time_embedder.linear_1."},
    {"time_embedding.2.", "condition_embedder.time_embedder.linear_2."},
    {"time_projection.1.", "condition_embedder.time_proj."},
    {"head.modulation", "scale_shift_table"},
    {"head.head.", "proj_out."},
    {"img_emb.proj.0.", "condition_embedder.image_embedder.norm1."},
    {"img_emb.proj.1.", "condition_embedder.image_embedder.ff.net.0.proj."},
    {"img_emb.proj.3.", "condition_embedder.image_embedder.ff.net.2."},
    {"img_emb.proj.4.", "condition_embedder.image_embedder.norm2."},
    {"patch_embedding.", "patch_embedding."}};

// Finds the prefix some exports put before every name ("model.diffusion_model.", "diffusion_model.").
std::string find_prefix(const io::Checkpoint& checkpoint) {
  for (const std::string& name : checkpoint.names()) {
    const size_t position = name.find("patch_embedding.weight");
    if (position != std::string::npos && position + 22 == name.size()) return name.substr(0, position);
  }
  throw Error("wan dit",
              concat(checkpoint.path(), " has no 'patch_embedding.weight': it is not a Wan DiT checkpoint"));
}

int64_t count_blocks(const io::Checkpoint& checkpoint, const std::string& prefix) {
  int64_t count = 0;
  for (const std::string& name : checkpoint.names()) {
    if (!name.starts_with(prefix + "blocks.")) continue;
    const std::string rest = name.substr(prefix.size() + 7);
    const int64_t index = std::stoll(rest.substr(0, rest.find('.')));
    count = std::max(count, index + 1);
  }
  return count;
}

void apply_config_json(const io::Config& json, WanDitConfig& config) {
  // The official config.json (WanModel) and diffusers' (WanTransformer3DModel) name the same things
  // differently.
  if (json.has("num_attention_heads")) {
    config.num_heads = json.get_int("num_attention_heads");
    config.dim = config.num_heads * json.get_int("attention_head_dim", 128);
    config.in_dim = json.get_int("in_channels", config.in_dim);
    config.out_dim = json.get_int("out_channels", config.out_dim);
    if (json.has("image_dim")) config.clip_dim = json.get_int("image_dim");
  } else {
    config.num_heads = json.get_int("num_heads", config.num_heads);
    config.dim = json.get_int("dim", config.dim);
    config.in_dim = json.get_int("in_dim", config.in_dim);
    config.out_dim = json.get_int("out_dim", config.out_dim);
    config.text_len = json.get_int("text_len", config.text_len);
  }
  config.eps = json.get_double("eps", config.eps);
}

}  // namespace

std::string WanDitConfig::describe() const {
  return concat(model_type, " dim ", dim, ", ", num_layers, " layers, ", num_heads, " heads x ", head_dim(),
                ", ffn ", ffn_dim, ", in ", in_dim, ", text ", text_dim);
}

std::string wan_diffusers_name(const std::string& original_name) {
  if (original_name.starts_with("blocks.")) {
    const size_t dot = original_name.find('.', 7);
    const std::string head = original_name.substr(0, dot + 1), rest = original_name.substr(dot + 1);
    for (const auto& [old_prefix, new_prefix] : kBlockNames)
      if (rest.starts_with(old_prefix)) return head + new_prefix + rest.substr(old_prefix.size());
    return original_name;
  }
  for (const auto& [old_prefix, new_prefix] : kTopNames)
    if (original_name.starts_with(old_prefix)) return new_prefix + original_name.substr(old_prefix.size());
  return original_name;
}

WanDitCheckpoint WanDitCheckpoint::open(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path directory = fs::is_directory(path, error) ? fs::path(path) : fs::path(path).parent_path();
  auto checkpoint = io::open_checkpoint(path);
  if (fs::exists(directory / "config.json", error)) {
    const io::Config config_json = io::Config::from_file(directory / "config.json");
    return from_checkpoint(std::move(checkpoint), &config_json);
  }
  return from_checkpoint(std::move(checkpoint), nullptr);
}

WanDitCheckpoint WanDitCheckpoint::from_checkpoint(std::unique_ptr<io::Checkpoint> opened,
                                                   const io::Config* config_json) {
  WanDitCheckpoint result;
  result.checkpoint_ = std::move(opened);
  const io::Checkpoint& checkpoint = *result.checkpoint_;
  const std::string& path = checkpoint.path();
  result.prefix_ = find_prefix(checkpoint);
  const std::string& prefix = result.prefix_;
  if (checkpoint.contains(prefix + "condition_embedder.time_proj.weight")) {
    result.naming_ = WanWeightNaming::diffusers;
  } else if (checkpoint.contains(prefix + "time_projection.1.weight")) {
    result.naming_ = WanWeightNaming::original;
  } else {
    throw Error("wan dit",
                concat(path, " has neither 'time_projection.1.weight' (Wan names) nor ",
                       "'condition_embedder.time_proj.weight' (diffusers names): not a Wan2.1 DiT"));
  }
  // Architecture from the shapes, then config.json where present (it alone knows the head count).
  WanDitConfig& config = result.config_;
  const auto shape_of = [&](const std::string& original) {
    return checkpoint.info(result.file_name(original)).shape;
  };
  const Shape patch = shape_of("patch_embedding.weight");
  if (patch.size() != 5)
    throw Error("wan dit", concat("patch_embedding.weight has shape ", shape_to_string(patch),
                                  "; expected [dim, in_dim, 1, 2, 2]"));
  config.dim = patch[0];
  config.in_dim = patch[1];
  for (int i = 0; i < 3; ++i) config.patch[i] = patch[2 + i];
  config.num_layers = count_blocks(checkpoint, prefix);
  config.ffn_dim = shape_of("blocks.0.ffn.0.weight").at(0);
  config.text_dim = shape_of("text_embedding.0.weight").at(1);
  config.freq_dim = shape_of("time_embedding.0.weight").at(1);
  config.out_dim = shape_of("head.head.weight").at(0) / (config.patch[0] * config.patch[1] * config.patch[2]);
  config.num_heads = config.dim % 128 == 0 ? config.dim / 128 : 1;
  const bool image = checkpoint.contains(result.file_name("img_emb.proj.1.weight"));
  config.model_type = image ? "i2v" : "t2v";
  if (image) config.clip_dim = shape_of("img_emb.proj.1.weight").at(1);
  if (config_json) apply_config_json(*config_json, config);
  if (config.num_heads <= 0 || config.dim % config.num_heads != 0 || config.head_dim() % 2 != 0)
    throw Error("wan dit", concat("dim ", config.dim, " does not split into ", config.num_heads,
                                  " heads of even size; fix num_heads in config.json"));
  if (config.num_layers == 0) throw Error("wan dit", concat(path, " has no blocks.N tensors"));
  return result;
}

std::vector<std::pair<std::string, Shape>> wan_dit_tensor_shapes(const WanDitConfig& c) {
  const int64_t dim = c.dim, patch_volume = c.patch[0] * c.patch[1] * c.patch[2];
  std::vector<std::pair<std::string, Shape>> shapes = {
      {"patch_embedding.weight", {dim, c.in_dim, c.patch[0], c.patch[1], c.patch[2]}},
      {"patch_embedding.bias", {dim}},
      {"text_embedding.0.weight", {dim, c.text_dim}},
      {"text_embedding.0.bias", {dim}},
      {"text_embedding.2.weight", {dim, dim}},
      {"text_embedding.2.bias", {dim}},
      {"time_embedding.0.weight", {dim, c.freq_dim}},
      {"time_embedding.0.bias", {dim}},
      {"time_embedding.2.weight", {dim, dim}},
      {"time_embedding.2.bias", {dim}},
      {"time_projection.1.weight", {6 * dim, dim}},
      {"time_projection.1.bias", {6 * dim}},
      {"head.modulation", {1, 2, dim}},
      {"head.head.weight", {c.out_dim * patch_volume, dim}},
      {"head.head.bias", {c.out_dim * patch_volume}}};
  if (c.image_branch()) {
    shapes.insert(shapes.end(), {{"img_emb.proj.0.weight", {c.clip_dim}},
                                 {"img_emb.proj.0.bias", {c.clip_dim}},
                                 {"img_emb.proj.1.weight", {c.clip_dim, c.clip_dim}},
                                 {"img_emb.proj.1.bias", {c.clip_dim}},
                                 {"img_emb.proj.3.weight", {dim, c.clip_dim}},
                                 {"img_emb.proj.3.bias", {dim}},
                                 {"img_emb.proj.4.weight", {dim}},
                                 {"img_emb.proj.4.bias", {dim}}});
  }
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string block = concat("blocks.", i, ".");
    shapes.push_back({block + "modulation", {1, 6, dim}});
    std::vector<std::string> square = {"self_attn.q",  "self_attn.k",  "self_attn.v",  "self_attn.o",
                                       "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o"};
    if (c.image_branch()) square.insert(square.end(), {"cross_attn.k_img", "cross_attn.v_img"});
    for (const std::string& name : square) {
      shapes.push_back({block + name + ".weight", {dim, dim}});
      shapes.push_back({block + name + ".bias", {dim}});
    }
    std::vector<std::string> norms = {"self_attn.norm_q", "self_attn.norm_k", "cross_attn.norm_q",
                                      "cross_attn.norm_k", "norm3"};
    if (c.image_branch()) norms.push_back("cross_attn.norm_k_img");
    for (const std::string& name : norms) shapes.push_back({block + name + ".weight", {dim}});
    shapes.push_back({block + "norm3.bias", {dim}});
    shapes.push_back({block + "ffn.0.weight", {c.ffn_dim, dim}});
    shapes.push_back({block + "ffn.0.bias", {c.ffn_dim}});
    shapes.push_back({block + "ffn.2.weight", {dim, c.ffn_dim}});
    shapes.push_back({block + "ffn.2.bias", {dim}});
  }
  return shapes;
}

std::string WanDitCheckpoint::file_name(const std::string& original_name) const {
  return prefix_ +
         (naming_ == WanWeightNaming::diffusers ? wan_diffusers_name(original_name) : original_name);
}

void WanDitCheckpoint::check_tensors() const {
  for (const auto& [original, expected] : wan_dit_tensor_shapes(config_)) {
    const io::TensorInfo info = require(file_name(original));
    if (shape_numel(info.shape) != shape_numel(expected))
      throw Error("wan dit", concat("tensor '", file_name(original), "' in ", checkpoint_->path(),
                                    " has shape ", shape_to_string(info.shape), ", expected ",
                                    shape_to_string(expected), " for a ", config_.describe(), " model"));
  }
}

io::TensorInfo WanDitCheckpoint::require(const std::string& name) const {
  if (!checkpoint_->contains(name))
    throw Error("wan dit", concat(checkpoint_->path(), " has no tensor '", name, "' (a ", config_.describe(),
                                  " model needs it); the checkpoint is incomplete or of another model"));
  return checkpoint_->info(name);
}

Tensor WanDitCheckpoint::load(const std::string& original_name, const Shape& expected, DType dtype,
                              Device& device) const {
  const std::string name = file_name(original_name);
  const io::TensorInfo info = require(name);
  // Parameters stored with extra unit dims ([1, 6, dim] modulation) load into their squeezed shape.
  if (shape_numel(info.shape) != shape_numel(expected) ||
      (info.shape != expected && info.shape.size() == expected.size()))
    throw Error("wan dit",
                concat("tensor '", name, "' has shape ", shape_to_string(info.shape), ", expected ",
                       shape_to_string(expected), " for a ", config_.describe(), " model"));
  const QuantFormat stored = info.dtype ? quant_format_of(*info.dtype) : QuantFormat::none;
  if (stored != QuantFormat::none && quant_format_of(dtype) == QuantFormat::none)
    throw Error("wan dit",
                concat("tensor '", name, "' is stored ", quant_format_name(stored), " (", checkpoint_->path(),
                       " is a quantized checkpoint); set dit_quantized and dit_quant_scheme (",
                       quant_format_name(stored), "-...) to run it"));
  Tensor host = checkpoint_->load(name);
  if (lora_ && lora_->changes(name)) host = lora_->apply(name, host);
  host = host.reshape(expected);
  if (host.dtype() != dtype) host = host.to_host(dtype);
  return ops::to_device(host, device);
}

void WanDitCheckpoint::merge_loras(const std::vector<LoraConfig>& loras) {
  if (loras.empty()) return;
  lora_ = std::make_shared<LoraMerge>(loras, *checkpoint_, [this](const std::string& target) -> std::string {
    if (checkpoint_->contains(prefix_ + target)) return prefix_ + target;
    const std::string name = file_name(target);
    return checkpoint_->contains(name) ? name : std::string();
  });
  log_info("wan dit", "LoRA: ", lora_->delta_count(), " changes to ", lora_->changed_tensor_count(),
           " tensors from ", loras.size(), " file(s)");
}

QuantizedWeight WanDitCheckpoint::load_quantized(const std::string& linear, const Shape& expected,
                                                 QuantFormat format, const std::string& scheme,
                                                 bool auto_quant, Device& device) const {
  QuantizedLinearRequest request = quantized_linear_request(file_name(linear + ".weight"), expected, format,
                                                            scheme, "dit", "wan dit", auto_quant);
  request.scale_name = file_name(linear + ".weight_scale");  // diffusers' names rename the scale too
  const io::TensorInfo info = require(request.weight_name);
  if (info.shape != expected)
    throw Error("wan dit",
                concat("tensor '", request.weight_name, "' has shape ", shape_to_string(info.shape),
                       ", expected ", shape_to_string(expected), " for a ", config_.describe(), " model"));
  if (lora_ && lora_->changes(request.weight_name)) {
    const std::shared_ptr<const LoraMerge> lora = lora_;
    const std::string name = request.weight_name;
    request.adjust_float = [lora, name](const Tensor& weight) { return lora->apply(name, weight); };
  }
  return read_quantized_linear(*checkpoint_, request, device);
}

}  // namespace x2v
