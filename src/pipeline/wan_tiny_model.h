#pragma once
// A complete Wan2.1 T2V model directory at toy widths, in the published layout and file formats: the DiT
// as diffusion_pytorch_model.safetensors + config.json, umT5 as models_t5_umt5-xxl-enc-bf16.pth, the VAE
// as Wan2.1_VAE.pth and a sentencepiece tokenizer (trained on the spot) as google/umt5-xxl/spiece.model.
// Random weights: the video is noise, but every stage of the real path runs on it in seconds. With `i2v` it
// is an image-to-video model: the DiT takes the image conditioning (36 input channels, CLIP features) and a
// small CLIP image encoder is written under Wan's file name.
#include <cstdint>
#include <string>

namespace x2v {

struct TinyWanModelOptions {
  uint64_t seed = 0;
  int64_t dit_dim = 128, dit_heads = 2, dit_layers = 2, dit_ffn = 256;
  int64_t t5_dim = 64, t5_heads = 4, t5_layers = 2, t5_ffn = 128;
  int64_t vae_dim = 16;
  int64_t vocab_size = 800;  // the tokenizer's
  int64_t t5_vocab = 0;
  bool i2v = false;
  // Wan2.2 A14B's layout: two DiTs, high_noise_model/ and low_noise_model/ (for i2v without CLIP, as Wan2.2).
  bool experts = false;
  // Wan2.2 TI2V-5B's layout: the Wan2.2 VAE (Wan2.2_VAE.pth, 48 latent channels) and a DiT of 48 in and out.
  bool ti2v = false;
  int64_t clip_dim = 160, clip_layers = 3, clip_image_size = 56;  // i2v: 2 heads of ViT-H/14's 80
  bool with_tae = false;  // also taew2_1.safetensors (random TAEHV decoder weights, 38 MB) for use_tae //
                          // rows of umT5's embedding when more than the tokenizer's (umT5-XXL: 256384)
};

// Writes the model into `directory`, which must not exist yet; it appears only when complete.
void write_tiny_wan_model(const std::string& directory, const TinyWanModelOptions& options = {});

}  // namespace x2v
