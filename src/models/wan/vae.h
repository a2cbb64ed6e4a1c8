#pragma once
// The Wan2.1 VAE (Wan2.1_VAE.pth or diffusers' AutoencoderKLWan): video <-> normalized latents, run as the
// reference's chunked causal passes. Decoding goes one latent frame at a time and hands each decoded
// chunk to a sink, so neither the model nor the caller holds the whole video; peak memory depends on
// the frame size, not the frame count. Written only against platform ops.
#include <functional>
#include <memory>
#include <string>

#include "models/wan/vae_decoder.h"
#include "models/wan/vae_encoder.h"
#include "platform/communicator.h"

namespace x2v {

struct WanVaeOptions {
  // f32: as the reference runs. bf16: weights rounded to bf16 and activations (and the frame caches)
  // stored in bf16 between ops, which halves activation memory; every kernel still computes in f32 (on
  // CPUs without bf16 convolution the convs too), so it saves memory rather than time.
  DType dtype = DType::f32;
  // use_tiling_vae: decode in spatial tiles blended over their overlap (diffusers' tiled_decode). Only
  // the decode is tiled; encode always runs on whole frames.
  bool tiling = false;
  int64_t tile_sample_size = 256, tile_sample_stride = 192;  // pixels, diffusers' defaults
  std::string conv_kernel, mm_kernel, attention_kernel;      // "" = the platform's default
  // Patch parallel (vae_parallel): every rank of this group calls decode with the same latents and decodes
  // one tile of each frame (parallel/patch_grid.h); every rank's sink gets the whole frames. Null: whole
  // frames.
  Communicator* patch_group = nullptr;
};

class WanVae {
 public:
  WanVae(const io::Checkpoint& checkpoint, const WanVaeOptions& options, Device& device);
  // `path`: a Wan2.1_VAE.pth or AutoencoderKLWan .safetensors file, a model directory holding
  // Wan2.1_VAE.pth or vae/diffusion_pytorch_model.safetensors, or that vae/ folder itself.
  static std::unique_ptr<WanVae> open(const std::string& path, const WanVaeOptions& options, Device& device);
  // The configuration of the VAE at `path` (as open() finds it), read from the headers alone.
  static WanVaeConfig read_config(const std::string& path);

  const WanVaeConfig& config() const { return config_; }
  int64_t z_dim() const { return config_.z_dim; }
  // The latent normalization: z_norm = (mu - mean) / std per channel.
  static const std::vector<float>& latent_mean();
  static const std::vector<float>& latent_std();
  // Wan2.2's (48 channels).
  static const std::vector<float>& wan22_latent_mean();
  static const std::vector<float>& wan22_latent_std();

  // latents [z_dim, T_lat, h, w] (host, normalized as the DiT produces them). Calls `sink` with each
  // decoded chunk [3, n, 8h, 8w] f32 host in [-1, 1]: n = 1 for latent frame 0, then 4 per latent frame.
  // The chunk is only valid during the call.
  using FrameSink = std::function<void(const Tensor& frames)>;
  void decode(const Tensor& latents, const FrameSink& sink) const;
  // All frames: [3, 1 + 4 (T_lat - 1), 8h, 8w].
  Tensor decode(const Tensor& latents) const;
  // video [3, T, H, W] in [-1, 1] (host), T = 4n + 1, H and W multiples of 8 -> normalized mu
  // [z_dim, 1 + (T - 1) / 4, H / 8, W / 8] f32 host.
  Tensor encode(const Tensor& video) const;

 private:
  Tensor denormalized(const Tensor& latent_frame) const;
  Tensor finished(const Tensor& frames) const;
  void decode_tiled(const Tensor& latents, const FrameSink& sink) const;
  void decode_patches(const Tensor& latents, const FrameSink& sink) const;

  WanVaeConfig config_;
  const std::vector<float>* mean_ = nullptr;  // this VAE's latent normalization
  const std::vector<float>* std_ = nullptr;
  WanVaeOptions options_;
  Device* device_;
  std::unique_ptr<WanVaeEncoder> encoder_;
  std::unique_ptr<WanVaeDecoder> decoder_;
};

}  // namespace x2v
