#pragma once
// LoRA merging as LightX2V does it (tools/convert/converter.py --lora_path, and lora_configs in an infer
// config, both through lightx2v/utils/lora_loader.py): for each LoRA in order,
//   pairs  W += strength * (alpha / rank) * up @ down   (alpha: the file's `<base>.alpha` when non-zero, else
//   the
//          global alpha when given; scale 1 without any alpha; rank = rows of down),
//   diffs  W += strength * [global alpha] * diff        (`.diff` -> .weight, `.diff_b` -> .bias,
//                                                         `.diff_m` -> .modulation).
// Pairs in the layouts LightX2V reads: .lora_up/.lora_down, _lora.up/_lora.down, .lora_B/.lora_A (with or
// without .weight, or .default.weight), .lora.up/.lora.down, .lora_linear_layer.up/.down. The first of the
// prefixes "diffusion_model.", "model.", "unet." (LightX2V's) and "transformer." (diffusers') is removed from
// each key.
//
// Where x2v is stricter than LightX2V (which logs and skips): a LoRA tensor that changes no tensor of the
// model, a key of no known layout, a lora_mid (LoCon) tensor and a shape mismatch are Errors naming the key,
// found before any tensor is changed. The sum is computed in f32 and rounded once to the weight's dtype
// (LightX2V adds each LoRA in the weight's dtype).
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/config.h"

namespace x2v {

// One LoRA to merge: an entry of lora_configs ({"path", "strength"}) or one --lora_path of x2v convert.
struct LoraConfig {
  std::string path;
  double strength = 1.0;
  std::optional<double> alpha;  // converter --lora_alpha: for pairs whose file has no alpha, and for diffs
};

// One change a LoRA file makes to one model tensor.
struct LoraDelta {
  std::string
      target;        // the tensor's name as the LoRA gives it, prefix removed: "blocks.0.self_attn.q.weight"
  std::string key;   // the LoRA key it comes from (the up matrix or the diff), for messages
  std::string path;  // the LoRA file
  Tensor up, down;   // a pair: up f32 [out, rank], down f32 [rank, in]
  Tensor diff;       // a diff: f32, the target's shape
  double scale = 1.0;  // strength * alpha / rank (pairs), strength * [alpha] (diffs)

  bool is_pair() const { return up.defined(); }
};

// The "lora_configs" of an infer config: [{"path": "...", "strength": 0.8}, ...] (strength defaults to 1; an
// entry's "name", which picks the Wan2.2 expert, is not read). Empty when the key is missing or null. Throws
// Error naming the entry for a wrong type or a missing path.
std::vector<LoraConfig> lora_configs_from(const io::Config& config);

// Reads every delta of the LoRA file `config.path` (safetensors), scales included. Throws Error naming the
// file and the key for a key of no known layout, a pair missing its other half, a non-scalar alpha, or a
// non-finite strength or alpha.
std::vector<LoraDelta> read_lora(const LoraConfig& config);

// LoRAs resolved onto one checkpoint, ready to be added to its tensors as they are loaded.
class LoraMerge {
 public:
  // Maps a delta's target name onto the name of the checkpoint's tensor it changes; "" when there is none.
  using Resolver = std::function<std::string(const std::string& target)>;

  LoraMerge() = default;
  // Reads `configs` in order and resolves every delta on `checkpoint`. Throws Error (naming the LoRA file and
  // key) for a delta that changes no tensor, a shape that does not fit the tensor, and a tensor that is not
  // f32/bf16/f16 (a quantized weight: merge into the unquantized checkpoint, then quantize).
  LoraMerge(const std::vector<LoraConfig>& configs, const io::Checkpoint& checkpoint,
            const Resolver& resolve);

  bool empty() const { return deltas_.empty(); }
  // Whether some delta changes the checkpoint's tensor `name`.
  bool changes(const std::string& name) const { return deltas_.count(name) != 0; }
  // Checkpoint tensors changed, and the deltas read.
  size_t changed_tensor_count() const { return deltas_.size(); }
  size_t delta_count() const { return delta_count_; }
  // The checkpoint's tensor `name` (`tensor`, host-accessible, any float dtype) with every delta for it added
  // in order: a new contiguous tensor of `tensor`'s dtype, summed in f32. `tensor` itself when nothing
  // changes it.
  Tensor apply(const std::string& name, const Tensor& tensor) const;

 private:
  std::unordered_map<std::string, std::vector<LoraDelta>> deltas_;  // checkpoint name -> deltas in order
  size_t delta_count_ = 0;
};

}  // namespace x2v
