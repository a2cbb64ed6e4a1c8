#include "models/wan/vae_decoder.h"

#include "models/wan/vae_stage22.h"
#include "platform/ops.h"

namespace x2v {

WanVaeDecoder::WanVaeDecoder(const WanVaeCheckpoint& checkpoint, const VaeContext& context)
    : patch_(checkpoint.config().patch), context_(context) {
  const int64_t dim = checkpoint.config().decoder_dim, z_dim = checkpoint.config().z_dim, deepest = 4 * dim;
  conv2_.load(checkpoint, "conv2", {z_dim, z_dim, 1, 1, 1}, context, slots_);
  conv_in_.load(checkpoint, "decoder.conv1", {deepest, z_dim, 3, 3, 3}, context, slots_);
  middle_ = load_vae_middle(checkpoint, "decoder.", deepest, context, slots_);
  if (checkpoint.config().wan22()) {
    upsamples_ = load_wan22_decoder_stages(checkpoint, context, slots_, per_frame_from_);
  } else {
    const std::vector<VaeLayerPlan> plan = wan_vae_decoder_plan(dim);
    for (size_t i = 0; i < plan.size(); ++i)
      if (plan[i].kind == VaeLayerKind::upsample3d) per_frame_from_ = i + 1;
    upsamples_ = load_vae_layers(checkpoint, "decoder.upsamples.", plan, context, slots_);
  }
  norm_out_.load(checkpoint, "decoder.head.0.gamma", {dim, 1, 1, 1}, context);
  conv_out_.load(checkpoint, "decoder.head.2", {3 * patch_ * patch_, dim, 3, 3, 3}, context, slots_);
}

Tensor WanVaeDecoder::decode_chunk(const Tensor& z, VaeStream& stream) const {
  Tensor x = conv_in_.forward(conv2_.forward(z, stream), stream);
  for (const auto& layer : middle_) x = layer->forward(std::move(x), stream);
  for (size_t i = 0; i < per_frame_from_; ++i) x = upsamples_[i]->forward(std::move(x), stream);
  const int64_t frames = x.size(1);
  Tensor video;
  for (int64_t f = 0; f < frames; ++f) {
    Tensor y = ops::contiguous(x.slice(1, f, f + 1));
    for (size_t i = per_frame_from_; i < upsamples_.size(); ++i)
      y = upsamples_[i]->forward(std::move(y), stream);
    const Tensor rgb =
        vae_unpatchify(conv_out_.forward_normed(std::move(y), norm_out_, stream), patch_, context_);
    if (!video.defined())
      video = empty({rgb.size(0), frames, rgb.size(2), rgb.size(3)}, rgb.dtype(), *context_.device);
    Tensor target = video.slice(1, f, f + 1);
    ops::copy(rgb, target);
  }
  stream.finish_chunk();
  return video;
}

}  // namespace x2v
