#pragma once
// Wan2.1 DiT checkpoints: the architecture (from config.json or the tensor shapes), the two naming
// schemes (original Wan names and diffusers names, detected from the keys), and loading a tensor by its
// original name with its expected shape checked.
#include <memory>
#include <string>

#include "io/checkpoint.h"
#include "io/config.h"
#include "platform/device.h"
#include "quant/lora.h"

namespace x2v {

struct WanDitConfig {
  std::string model_type = "t2v";  // "t2v" or "i2v" (image branch present)
  int64_t dim = 1536;
  int64_t ffn_dim = 8960;
  int64_t num_heads = 12;
  int64_t num_layers = 30;
  int64_t in_dim = 16;
  int64_t out_dim = 16;
  int64_t text_dim = 4096;
  int64_t freq_dim = 256;
  int64_t text_len = 512;
  int64_t clip_dim = 1280;  // i2v: width of the CLIP features
  double eps = 1e-6;
  int64_t patch[3] = {1, 2, 2};

  // The CLIP branch (img_emb and the image keys and values of cross-attention): Wan2.1 I2V.
  bool image_branch() const { return model_type == "i2v"; }
  // Image conditioning channels beside the noise (y: mask and image latent): Wan2.1 I2V, and Wan2.2 I2V
  // whose DiT has no CLIP branch.
  bool takes_y() const { return in_dim > out_dim; }
  int64_t head_dim() const { return dim / num_heads; }
  std::string describe() const;
};

enum class WanWeightNaming { original, diffusers };

class WanDitCheckpoint {
 public:
  // `path`: a model directory (config.json read when present), a .safetensors, an index.json or a .pth.
  static WanDitCheckpoint open(const std::string& path);
  // Over an already open checkpoint; `config_json` is applied when given (may be null).
  static WanDitCheckpoint from_checkpoint(std::unique_ptr<io::Checkpoint> checkpoint,
                                          const io::Config* config_json);

  const WanDitConfig& config() const { return config_; }
  WanWeightNaming naming() const { return naming_; }
  const io::Checkpoint& checkpoint() const { return *checkpoint_; }
  // The tensor `original_name` (original Wan naming) checked against `expected` shape, converted to `dtype`
  // on `device`.
  // Throws Error naming the tensor when it is missing or misshaped, and when it is stored quantized (int8,
  // float8) while `dtype` is a float: such a weight needs its scale (load_quantized).
  Tensor load(const std::string& original_name, const Shape& expected, DType dtype, Device& device) const;
  // The quantized linear `linear` (original naming, e.g. "blocks.0.self_attn.q") for the kernel of
  // `scheme` taking `format` weights, in LightX2V's layout: `<linear>.weight` int8/float8_e4m3fn of
  // `expected` [out, in] shape and `<linear>.weight_scale` [out, 1] (or [out], any float dtype, loaded as
  // f32). A float weight is quantized here when `auto_quant` (weight_auto_quant) and is an Error otherwise;
  // a missing or misshaped scale and a weight of the other format are Errors naming the tensor.
  QuantizedWeight load_quantized(const std::string& linear, const Shape& expected, QuantFormat format,
                                 const std::string& scheme, bool auto_quant, Device& device) const;
  // The name of `original_name` in this checkpoint.
  std::string file_name(const std::string& original_name) const;
  // Gives the memory of `original_name`'s bytes back (lazy loading, once the tensor is copied).
  void release(const std::string& original_name) const { checkpoint_->release(file_name(original_name)); }
  // Checks from the headers alone that every tensor of the model is present with its expected size, so a
  // streamed model fails before it runs: Error naming the first missing or misshaped tensor (and the
  // file, for a block-split checkpoint whose block file is missing).
  void check_tensors() const;

  // lora_configs: every LoRA is added to its weights as they load (before weight_auto_quant). LoRA keys
  // use the original Wan names or this checkpoint's own names. Errors name a key that changes no tensor.
  void merge_loras(const std::vector<LoraConfig>& loras);

 private:
  std::unique_ptr<io::Checkpoint> checkpoint_;
  WanDitConfig config_;
  WanWeightNaming naming_ = WanWeightNaming::original;
  std::string prefix_;                     // e.g. "model.diffusion_model." in some exports
  std::shared_ptr<const LoraMerge> lora_;  // added to the float weights as they load

  // info() of `name` (a file name), or an Error naming it and what the model needs it for.
  io::TensorInfo require(const std::string& name) const;
};

// Every tensor of a DiT of `config`, original names, with its shape (modulations as stored: [1, 6, dim]).
std::vector<std::pair<std::string, Shape>> wan_dit_tensor_shapes(const WanDitConfig& config);

// The diffusers name of an original Wan DiT tensor name (e.g. blocks.0.norm3.weight ->
// blocks.0.norm2.weight).
std::string wan_diffusers_name(const std::string& original_name);

}  // namespace x2v
