#pragma once
// The checkpoint `x2v convert` reads, seen as a Wan DiT or a umT5 encoder: checked to be one, with its naming
// (original Wan names, or diffusers / transformers names) and the prefix some exports put before every name.
// "Canonical" names are the original Wan names without that prefix; LoRA targets and the quantization rule
// are matched on them, so both work whatever naming the checkpoint and the LoRA use.
//
// Note on layering: this is model knowledge (models/wan) used by the converter; it lives in pipeline/ with
// the rest of the converter.
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "io/checkpoint.h"
#include "models/wan/dit_weights.h"
#include "models/wan/t5_weights.h"

namespace x2v {

// LightX2V's converter -t/--model_type values x2v converts.
enum class ConvertModelType { wan_dit, wan_t5 };
// "wan_dit" / "wan_t5"; Error listing the accepted values otherwise.
ConvertModelType parse_convert_model_type(const std::string& text);
const char* convert_model_type_name(ConvertModelType type);

// -d/--direction: forward = original Wan names -> diffusers (DiT) / transformers (T5) names, backward = the
// reverse, keep = names as stored.
enum class NameDirection { keep, forward, backward };
NameDirection parse_name_direction(const std::string& text);  // "", "forward", "backward"

class ConvertSource {
 public:
  // Opens `path` (anything open_checkpoint reads). Throws Error when it is not a model of `type`.
  static std::unique_ptr<ConvertSource> open(ConvertModelType type, const std::string& path);

  const io::Checkpoint& checkpoint() const;
  // "Wan DiT t2v dim 1536, ... (diffusers names)"
  std::string describe() const;
  // Whether the checkpoint uses the diffusers (DiT) / transformers (T5) names rather than the original ones.
  bool other_naming() const { return other_naming_; }

  // The canonical name of the checkpoint's tensor `name`. Names outside the model's table keep their form.
  std::string canonical(const std::string& name) const;
  // The name the checkpoint's tensor `name` gets in the output under `direction`.
  std::string output_name(const std::string& name, NameDirection direction) const;
  // The checkpoint's tensor a LoRA target (in either naming, without prefix) changes, or "".
  std::string resolve_lora_target(const std::string& target) const;
  // Whether LightX2V's converter quantizes the tensor `name` of shape `shape`: the 2-D weights of the blocks'
  // attention and FFN linears (DiT: self_attn, cross_attn, ffn; T5: attn, ffn), judged on the canonical name
  // (LightX2V judges the name as stored, so it quantizes fewer linears of a diffusers-named checkpoint).
  bool is_quantized_linear(const std::string& name, const Shape& shape) const;

 private:
  ConvertSource() = default;
  // The original name of `name` in the other naming (lookup table, then `<module>.weight` for other
  // parameters of the same module: weight_scale, input_scale), or nullopt.
  std::optional<std::string> original_of_other(const std::string& name) const;
  // The other naming's name of the original `name`.
  std::string other_of_original(const std::string& name) const;

  ConvertModelType type_ = ConvertModelType::wan_dit;
  std::optional<WanDitCheckpoint> dit_;
  std::unique_ptr<io::Checkpoint> t5_checkpoint_;
  std::unique_ptr<T5Weights> t5_;
  bool other_naming_ = false;
  std::string prefix_;
  std::unordered_map<std::string, std::string> original_of_other_;  // other naming -> original (no prefix)
  std::unordered_map<std::string, std::string> by_canonical_;       // canonical -> checkpoint name
};

}  // namespace x2v
