#pragma once
// The Wan2.1 VAE encoder, chunk by chunk: encoder.conv1, encoder.downsamples, the middle, the head and
// conv1 (pointwise), keeping the mean half (mu). A stream's first chunk is one video frame, every later
// one four; each gives one latent frame. Up to the first temporal downsampling every layer is causal
// frame by frame, so the two full-size stages run one frame at a time (the activations in flight are
// one frame's, not a chunk's).
#include "models/wan/vae_blocks.h"

namespace x2v {

class WanVaeEncoder {
 public:
  WanVaeEncoder(const WanVaeCheckpoint& checkpoint, const VaeContext& context);

  VaeStream new_stream() const { return VaeStream(slots_.count); }
  // video [3, n, H, W] (n = 1 for the stream's first chunk, else 4; H, W multiples of the spatial factor, 8
  // or
  // 16 for Wan2.2) on the context's device. Returns mu [z_dim, 1, H/f, W/f] in the activation dtype, not
  // normalized.
  Tensor encode_chunk(const Tensor& video, VaeStream& stream) const;

 private:
  int64_t z_dim_;
  int64_t patch_;  // Wan2.2: frames come in as 2x2 patches
  VaeContext context_;
  VaeSlotCounter slots_;
  size_t per_frame_until_ = 0;  // downsamples before this one run frame by frame
  CausalConv3d conv_in_, conv_out_, conv1_;
  std::vector<std::unique_ptr<VaeLayer>> downsamples_, middle_;
  VaeNorm norm_out_;
};

}  // namespace x2v
