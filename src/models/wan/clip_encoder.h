#pragma once
// The CLIP image encoder of Wan2.1 I2V: the visual tower of open-CLIP XLM-RoBERTa-large ViT-H/14 (the
// official wan/modules/clip.py VisionTransformer, which LightX2V runs too): a patch-embedding convolution
// without bias, a class token, learned positions, a pre-norm LayerNorm and pre-norm blocks of self-attention
// (fused to_qkv, 1/sqrt(d) scaling) and a GELU MLP. I2V takes the hidden states after all blocks but the last
// (use_31_block): [257, 1280] for a 224x224 image. Written only against platform ops.
#include <memory>
#include <string>

#include "io/checkpoint.h"
#include "models/common/linear.h"
#include "models/common/linear_quant_options.h"
#include "models/common/precision.h"
#include "models/wan/clip_weights.h"
#include "platform/device.h"

namespace x2v {

struct ClipVisionConfig {
  int64_t image_size = 224, patch_size = 14, dim = 1280, num_heads = 16, num_layers = 32, mlp_dim = 5120;
  float eps = 1e-5f;
  int64_t tokens() const { return (image_size / patch_size) * (image_size / patch_size) + 1; }
};

// The file Wan and LightX2V ship the encoder in (the whole CLIP; x2v reads its "visual." tensors).
inline constexpr const char* kWanClipFile = "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth";
// LightX2V's quantized CLIP file for a clip_quant_scheme: the scheme's format ("int8-vllm" -> ...-int8.pth).
std::string wan_quantized_clip_file(const std::string& scheme);

class ClipVisionEncoder {
 public:
  // The visual tower's tensors (Wan's "visual.*", the same without the prefix, or diffusers' image_encoder/,
  // clip_weights.h); the shape follows from them, with ViT-H/14's head width of 80 giving the head count.
  // Errors name a missing or misshaped tensor. `linears` (clip_quantized, clip_quant_scheme) quantizes the
  // blocks' linears as LightX2V does (to_qkv, proj, the MLP); the rest stays in floating point.
  ClipVisionEncoder(const io::Checkpoint& checkpoint, Precision precision, Device& device,
                    const LinearQuantOptions& linears = {});
  ClipVisionEncoder(const ClipVisionEncoder&) = delete;
  ClipVisionEncoder& operator=(const ClipVisionEncoder&) = delete;
  ~ClipVisionEncoder();
  // `path`: the CLIP .pth (or .safetensors), a Wan model folder holding kWanClipFile, or diffusers'
  // image_encoder/ (or a folder holding it).
  static std::unique_ptr<ClipVisionEncoder> open(const std::string& path, Precision precision, Device& device,
                                                 const LinearQuantOptions& linears = {});

  const ClipVisionConfig& config() const { return config_; }

  // image [3, H, W] host in [-1, 1] (io::read_image) -> the normalized [3, S, S] pixels the tower takes, as
  // Wan's CLIPModel.visual makes them: bicubic to S = image_size, back to [0, 1], CLIP's mean and std.
  Tensor preprocess(const Tensor& image) const;
  // pixels [3, S, S] -> hidden states [tokens, dim] f32 host after the first `blocks` blocks (-1: all but the
  // last, as I2V uses).
  Tensor forward(const Tensor& pixels, int64_t blocks = -1) const;
  // preprocess then forward: the I2V image features [tokens, dim].
  Tensor encode(const Tensor& image) const { return forward(preprocess(image)); }

 private:
  struct Block;
  void run_block(const Block& block, Tensor& x) const;

  ClipVisionConfig config_;
  Precision precision_;
  Device* device_;
  std::unique_ptr<ConvKernel> patch_embedding_;
  Tensor class_embedding_, position_embedding_;  // [dim], [tokens, dim] f32 on the device
  std::unique_ptr<LayerNormKernel> pre_norm_;
  std::vector<std::unique_ptr<Block>> blocks_;
};

}  // namespace x2v
