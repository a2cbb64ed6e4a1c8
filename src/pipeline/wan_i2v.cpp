#include "pipeline/wan_i2v.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/text.h"
#include "io/image_resize.h"
#include "platform/ops.h"

namespace x2v {

WanVideoShape wan_i2v_video_shape(const WanVideoShape& target, int64_t image_height, int64_t image_width) {
  // LightX2V: lat = round(sqrt(max_area * ratio) // vae_stride // patch * patch), in Python's float floor
  // division; ratio = h / w of the image.
  constexpr double kVaeStride = 8, kPatch = 2;
  const double area = static_cast<double>(target.height) * static_cast<double>(target.width);
  const double ratio = static_cast<double>(image_height) / static_cast<double>(image_width);
  const auto latent = [&](double side) {
    return static_cast<int64_t>(std::floor(std::floor(side / kVaeStride) / kPatch) * kPatch);
  };
  WanVideoShape shape = target;
  shape.height = latent(std::sqrt(area * ratio)) * 8;
  shape.width = latent(std::sqrt(area / ratio)) * 8;
  if (shape.height < 16 || shape.width < 16)
    throw Error("i2v", concat("the image is ", image_height, "x", image_width, ": at the target area of ",
                              target.height, "x", target.width, " its ", shape.height, "x", shape.width,
                              " video would be under 16 pixels on a side; give a less elongated image"));
  return shape;
}

WanVideoShape wan_ti2v_video_shape(const WanVideoShape& target, int64_t image_height, int64_t image_width) {
  constexpr double kStep = 32;  // a 2x2 patch of 16x latents
  const double area = static_cast<double>(target.height) * static_cast<double>(target.width);
  const double ratio = static_cast<double>(image_width) / static_cast<double>(image_height);
  const double ow = std::sqrt(area * ratio), oh = area / ow;
  const auto floor_to = [&](double value) { return std::floor(value / kStep) * kStep; };
  const double ow1 = floor_to(ow), oh1 = floor_to(area / ow1);
  const double oh2 = floor_to(oh), ow2 = floor_to(area / oh2);
  if (ow1 < kStep || oh1 < kStep || ow2 < kStep || oh2 < kStep)
    throw Error("i2v",
                concat("the image is ", image_height, "x", image_width, ": at the target area of ",
                       target.height, "x", target.width, " its video would be under 32 pixels on a side; ",
                       "give a less elongated image"));
  const auto off = [&](double w, double h) { return std::max(ratio / (w / h), (w / h) / ratio); };
  WanVideoShape shape = target;
  const bool width_first = off(ow1, oh1) < off(ow2, oh2);
  shape.width = static_cast<int64_t>(width_first ? ow1 : ow2);
  shape.height = static_cast<int64_t>(width_first ? oh1 : oh2);
  return shape;
}

Tensor wan_ti2v_first_frame(const Tensor& image, const WanVideoShape& shape) {
  const int64_t ih = image.size(1), iw = image.size(2);
  const double scale = std::max(static_cast<double>(shape.width) / static_cast<double>(iw),
                                static_cast<double>(shape.height) / static_cast<double>(ih));
  const int64_t rh = static_cast<int64_t>(std::nearbyint(static_cast<double>(ih) * scale));
  const int64_t rw = static_cast<int64_t>(std::nearbyint(static_cast<double>(iw) * scale));
  const Tensor resized = io::resize_bicubic(image, std::max(rh, shape.height), std::max(rw, shape.width));
  const int64_t top = (resized.size(1) - shape.height) / 2, left = (resized.size(2) - shape.width) / 2;
  return ops::contiguous(resized.slice(1, top, top + shape.height).slice(2, left, left + shape.width))
      .reshape({3, 1, shape.height, shape.width});
}

Tensor wan_i2v_y(const WanVae& vae, const Tensor& image, const WanVideoShape& shape) {
  const int64_t frame_values = shape.height * shape.width;
  Tensor video = Tensor::host({3, shape.frames, shape.height, shape.width}, DType::f32);
  std::fill_n(video.data<float>(), video.numel(), 0.0f);
  const Tensor first = io::resize_bicubic(image, shape.height, shape.width);
  for (int64_t c = 0; c < 3; ++c)
    std::copy_n(first.data<float>() + c * frame_values, frame_values,
                video.data<float>() + c * shape.frames * frame_values);
  const Tensor latent = vae.encode(video);
  const int64_t channels = latent.size(0), latent_frames = latent.size(1),
                plane = latent.size(2) * latent.size(3);
  Tensor y = Tensor::host({4 + channels, latent_frames, latent.size(2), latent.size(3)}, DType::f32);
  float* values = y.data<float>();
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t t = 0; t < latent_frames; ++t)
      std::fill_n(values + (c * latent_frames + t) * plane, plane, t == 0 ? 1.0f : 0.0f);
  std::copy_n(latent.data<float>(), latent.numel(), values + 4 * latent_frames * plane);
  return y;
}

}  // namespace x2v
