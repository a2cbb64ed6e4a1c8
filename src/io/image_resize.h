#pragma once
// Bicubic resizing of host images, as torch.nn.functional.interpolate(mode="bicubic", align_corners=False,
// antialias=False) computes it: Keys' cubic with a = -0.75, source coordinates (x + 0.5) * in / out - 0.5,
// taps past the border clamped to it. Wan's CLIP preprocessing and LightX2V's I2V frame resizing use it; so
// x2v's I2V conditioning sees the pixels the reference sees.
#include <cstdint>

#include "core/tensor.h"

namespace x2v::io {

// image [C, H, W] (host, floating) -> [C, height, width] f32. Values are not clamped (bicubic overshoots, as
// torch's does).
Tensor resize_bicubic(const Tensor& image, int64_t height, int64_t width);

}  // namespace x2v::io
