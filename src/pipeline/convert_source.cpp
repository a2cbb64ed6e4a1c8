#include "pipeline/convert_source.h"

#include <algorithm>
#include <vector>

namespace x2v {
namespace {

constexpr const char* kPlace = "convert";

std::vector<std::string> split_dots(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', start)) {
    parts.push_back(name.substr(start, dot - start));
    start = dot + 1;
  }
  parts.push_back(name.substr(start));
  return parts;
}

// `name` with its last component replaced by `last` ("a.b.weight_scale", "weight" -> "a.b.weight").
std::string with_last_component(const std::string& name, const std::string& last) {
  const size_t dot = name.rfind('.');
  return (dot == std::string::npos ? std::string() : name.substr(0, dot + 1)) + last;
}

std::string last_component(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

}  // namespace

ConvertModelType parse_convert_model_type(const std::string& text) {
  if (text == "wan_dit") return ConvertModelType::wan_dit;
  if (text == "wan_t5") return ConvertModelType::wan_t5;
  throw Error(kPlace,
              concat("model_type '", text, "' is not one x2v converts; use wan_dit (the Wan2.1 DiT) or ",
                     "wan_t5 (the umT5 text encoder)"));
}

const char* convert_model_type_name(ConvertModelType type) {
  return type == ConvertModelType::wan_dit ? "wan_dit" : "wan_t5";
}

NameDirection parse_name_direction(const std::string& text) {
  if (text.empty()) return NameDirection::keep;
  if (text == "forward") return NameDirection::forward;
  if (text == "backward") return NameDirection::backward;
  throw Error(kPlace,
              concat("direction '", text, "' is neither forward (original Wan names -> diffusers) nor ",
                     "backward (diffusers -> original Wan names); leave it out to keep the names"));
}

std::unique_ptr<ConvertSource> ConvertSource::open(ConvertModelType type, const std::string& path) {
  std::unique_ptr<ConvertSource> source(new ConvertSource());
  source->type_ = type;
  std::vector<std::pair<std::string, Shape>> originals;  // every original name of the model
  if (type == ConvertModelType::wan_dit) {
    source->dit_ = WanDitCheckpoint::open(path);
    const WanDitCheckpoint& dit = *source->dit_;
    source->other_naming_ = dit.naming() == WanWeightNaming::diffusers;
    const std::string probe = "patch_embedding.weight";  // the same in both namings
    const std::string stored = dit.file_name(probe);
    source->prefix_ = stored.substr(0, stored.size() - probe.size());
    WanDitConfig config = dit.config();
    config.model_type = "i2v";  // the image-branch names too, so an i2v LoRA on a t2v model names its tensor
    originals = wan_dit_tensor_shapes(config);
  } else {
    source->t5_checkpoint_ = io::open_checkpoint(path);
    source->t5_ = std::make_unique<T5Weights>(*source->t5_checkpoint_);
    const T5Weights& t5 = *source->t5_;
    source->other_naming_ = t5.naming() == T5WeightNaming::transformers;
    const std::string probe = "norm.weight";
    const std::string unprefixed = source->other_naming_ ? t5_transformers_name(probe) : probe;
    const std::string stored = t5.file_name(probe);
    source->prefix_ = stored.substr(0, stored.size() - unprefixed.size());
    originals = t5_tensor_shapes(t5.config());
    // transformers keeps the tied token embedding under either name.
    source->original_of_other_.emplace("encoder.embed_tokens.weight", "token_embedding.weight");
  }
  for (const auto& [original, shape] : originals)
    source->original_of_other_.emplace(source->other_of_original(original), original);
  for (const std::string& name : source->checkpoint().names())
    source->by_canonical_.emplace(source->canonical(name), name);
  return source;
}

const io::Checkpoint& ConvertSource::checkpoint() const {
  return dit_ ? dit_->checkpoint() : *t5_checkpoint_;
}

std::string ConvertSource::describe() const {
  const std::string naming = other_naming_ ? (dit_ ? "diffusers names" : "transformers names") : "Wan names";
  const std::string model = dit_ ? "Wan DiT " + dit_->config().describe() : t5_->config().describe();
  return concat(model, " (", naming, prefix_.empty() ? "" : ", prefix '" + prefix_ + "'", ")");
}

std::string ConvertSource::other_of_original(const std::string& name) const {
  const auto rename = [&](const std::string& original) {
    return type_ == ConvertModelType::wan_dit ? wan_diffusers_name(original) : t5_transformers_name(original);
  };
  const std::string renamed = rename(name);
  if (renamed != name) return renamed;
  // Parameters beside a module's weight (weight_scale, input_scale) follow the weight's module.
  const std::string weight = with_last_component(name, "weight");
  if (weight == name) return name;
  const std::string renamed_weight = rename(weight);
  return renamed_weight == weight ? name : with_last_component(renamed_weight, last_component(name));
}

std::optional<std::string> ConvertSource::original_of_other(const std::string& name) const {
  if (const auto found = original_of_other_.find(name); found != original_of_other_.end())
    return found->second;
  const std::string weight = with_last_component(name, "weight");
  if (weight == name) return std::nullopt;
  if (const auto found = original_of_other_.find(weight); found != original_of_other_.end())
    return with_last_component(found->second, last_component(name));
  return std::nullopt;
}

std::string ConvertSource::canonical(const std::string& name) const {
  const std::string rest = name.starts_with(prefix_) ? name.substr(prefix_.size()) : name;
  if (!other_naming_) return rest;
  return original_of_other(rest).value_or(rest);
}

std::string ConvertSource::output_name(const std::string& name, NameDirection direction) const {
  switch (direction) {
    case NameDirection::keep:
      return name;
    case NameDirection::forward:
      return prefix_ + other_of_original(canonical(name));
    case NameDirection::backward:
      return prefix_ + canonical(name);
  }
  throw InternalError(kPlace, "unknown name direction");
}

std::string ConvertSource::resolve_lora_target(const std::string& target) const {
  const std::string canonical_target = original_of_other(target).value_or(target);
  const auto found = by_canonical_.find(canonical_target);
  return found == by_canonical_.end() ? std::string() : found->second;
}

bool ConvertSource::is_quantized_linear(const std::string& name, const Shape& shape) const {
  if (shape.size() != 2) return false;
  const std::vector<std::string> parts = split_dots(canonical(name));
  if (parts.size() < 4 || parts[0] != "blocks" || parts.back() != "weight") return false;
  static const std::vector<std::string> kDit = {"self_attn", "cross_attn", "ffn"};
  static const std::vector<std::string> kT5 = {"attn", "ffn"};
  const std::vector<std::string>& modules = type_ == ConvertModelType::wan_dit ? kDit : kT5;
  return std::find(modules.begin(), modules.end(), parts[2]) != modules.end();
}

}  // namespace x2v
