#pragma once
// What Wan2.1 I2V conditions the DiT on besides the text, made as the official image2video.py and LightX2V's
// WanRunner make it: the output size from the image's aspect ratio, and `y`, the first-frame mask over the
// VAE latent of the image followed by black frames.
#include <cstdint>

#include "models/wan/vae.h"
#include "pipeline/wan_defaults.h"

namespace x2v {

struct WanImageConditioning {
  Tensor clip_features;  // [257, 1280] f32: CLIP's hidden states (all blocks but the last)
  Tensor y;              // [4 + 16, T_lat, h, w] f32: the first-frame mask and the VAE latent of the image
  Tensor
      first_frame_latent;  // Wan2.2 TI2V: [48, 1, h, w], the image's latent that the first frame is held at
};

// The output size with resize_mode unset: the target area (target_height x target_width) at the image's
// aspect ratio, in latents that are multiples of 2 (a DiT patch). The frame count is the target's.
WanVideoShape wan_i2v_video_shape(const WanVideoShape& target, int64_t image_height, int64_t image_width);

// Wan2.2 TI2V-5B's size (textimage2video.py's best_output_size): within the target area, multiples of 32, the
// one of "width first" and "height first" whose aspect ratio is nearer the image's.
WanVideoShape wan_ti2v_video_shape(const WanVideoShape& target, int64_t image_height, int64_t image_width);
// TI2V's first frame: the image ([3, H, W] in [-1, 1]) scaled to cover `shape` and centre-cropped to it, [3,
// 1, height, width]. Resized bicubically (torch's), where the official code resizes with PIL's LANCZOS.
Tensor wan_ti2v_first_frame(const Tensor& image, const WanVideoShape& shape);

// y [4 + z_dim, T_lat, h, w] f32 host: the mask (1 on the first latent frame, 0 after) over the VAE encoding
// of the video whose frame 0 is `image` ([3, H, W] in [-1, 1]) resized bicubically to `shape`, the rest
// zeros.
Tensor wan_i2v_y(const WanVae& vae, const Tensor& image, const WanVideoShape& shape);

}  // namespace x2v
