#pragma once
// Where each part of a Wan2.1 model lives: the published layout (DiT safetensors + config.json,
// models_t5_umt5-xxl-enc-bf16.pth, Wan2.1_VAE.pth, google/umt5-xxl/) or the diffusers one (transformer/,
// text_encoder/, tokenizer/, vae/), with LightX2V's config keys overriding single files. Every file is
// checked before any work starts, so a missing one is reported at once, by name.
#include <string>

#include "io/config.h"

namespace x2v {

// What a run needs beyond the text-to-video parts.
struct WanModelNeeds {
  bool i2v = false;        // the VAE encoder for the image latent
  bool clip = false;       // the CLIP image encoder (Wan2.1 I2V; use_image_encoder false drops it)
  bool experts = false;    // Wan2.2 A14B: high_noise_model/ and low_noise_model/
  bool wan22_vae = false;  // Wan2.2 TI2V-5B: Wan2.2_VAE.pth
};

struct WanModelFiles {
  // DiT checkpoint: the model directory, a transformer/ folder, or a file. For Wan2.2 A14B the low-noise
  // expert (low_noise_model/, or low_noise_original_ckpt), whose config.json describes both.
  std::string dit;
  std::string
      dit_high_noise;  // Wan2.2 A14B: the high-noise expert (high_noise_model/ or high_noise_original_ckpt)
  std::string t5;      // umT5 encoder weights (.pth, safetensors, or a text_encoder/ folder)
  // t5_quantized: t5_quant_scheme, the kernel of the umT5's attention and FFN linears ("" = unquantized),
  // and weight_auto_quant (float weights in `t5`, e.g. no quantized file was found, are quantized at load).
  std::string t5_quant_scheme;
  bool t5_auto_quant = false;
  std::string tokenizer;  // sentencepiece model (spiece.model)
  std::string vae;        // VAE weights (Wan2.1_VAE.pth or a vae/ folder)
  // use_tae: the TAEHV decoder that replaces the VAE's (tae_path, else taew2_1.pth / .safetensors in the
  // model folder's original/, fp8/, int8/, distill_* subfolders or the folder itself); "" without use_tae.
  std::string tae;
  bool tae_need_scaled = false;  // need_scaled, or a LightTAE file name ("lighttae")
  // use_lightvae: `vae` is LightX2V's pruned LightVAE (vae_path, else vae_name, default lightvaew2_1.pth, in
  // the model folder's subfolders as above), the Wan2.1 VAE at a quarter of its width.
  bool lightvae = false;
  // i2v: the CLIP image encoder (clip_original_ckpt, else the model folder's CLIP file; "" with
  // use_image_encoder false) and the VAE whose encoder makes the image latent (the full Wan2.1 VAE, also when
  // use_lightvae decodes with LightVAE, as in LightX2V).
  std::string clip;
  std::string vae_encoder;
  // clip_quantized: clip_quant_scheme, the kernel of the CLIP blocks' linears, and weight_auto_quant (float
  // weights in `clip` are quantized at load).
  std::string clip_quant_scheme;
  bool clip_auto_quant = false;

  // Overrides: dit_original_ckpt, t5_original_ckpt, t5_tokenizer_path, vae_path (files or folders).
  // With t5_quantized the umT5 is t5_quantized_ckpt, else LightX2V's models_t5_umt5-xxl-enc-<int8|fp8>.pth
  // in the model folder or its original/, int8/, fp8/, distill_* subfolders.
  static WanModelFiles locate(const std::string& model_path, const io::Config& config,
                              const WanModelNeeds& needs = {});
};

// The published file names, for messages and for `x2v make-tiny-model`.
inline constexpr const char* kWanT5File = "models_t5_umt5-xxl-enc-bf16.pth";
// LightX2V's quantized umT5 file for a t5_quant_scheme: the scheme's format ("int8-vllm" -> int8).
std::string wan_quantized_t5_file(const std::string& scheme);
inline constexpr const char* kWanVaeFile = "Wan2.1_VAE.pth";
inline constexpr const char* kWan22VaeFile = "Wan2.2_VAE.pth";
inline constexpr const char* kWanTokenizerFile = "google/umt5-xxl/spiece.model";
inline constexpr const char* kWanDitFile = "diffusion_pytorch_model.safetensors";

}  // namespace x2v
