#pragma once
// The Wan2.1 VAE decoder, one latent frame at a time: conv2 (pointwise), decoder.conv1, the middle
// (residual, attention, residual), decoder.upsamples and the head. A stream's first latent frame gives
// one video frame, every later one four (two temporal 2x upsamplings). From the last temporal upsampling
// on, every layer is causal frame by frame, so the two largest stages run one frame at a time: the
// activations in flight are one full-size frame's, not a chunk's (the frame caches are the same).
#include "models/wan/vae_blocks.h"

namespace x2v {

class WanVaeDecoder {
 public:
  WanVaeDecoder(const WanVaeCheckpoint& checkpoint, const VaeContext& context);

  // A fresh causal state (one per video, or per spatial tile of a video).
  VaeStream new_stream() const { return VaeStream(slots_.count); }
  // z [z_dim, 1, h, w]: one de-normalized latent frame on the context's device. Returns the next video
  // frames [3, n, 8h, 8w] in the activation dtype, not clamped.
  Tensor decode_chunk(const Tensor& z, VaeStream& stream) const;

 private:
  int64_t patch_;  // Wan2.2: frames come out as 2x2 patches
  VaeContext context_;
  VaeSlotCounter slots_;
  size_t per_frame_from_ = 0;  // upsamples from here on run frame by frame
  CausalConv3d conv2_, conv_in_, conv_out_;
  std::vector<std::unique_ptr<VaeLayer>> middle_, upsamples_;
  VaeNorm norm_out_;
};

}  // namespace x2v
