#include "models/wan/vae_encoder.h"

#include "models/wan/vae_stage22.h"
#include "platform/ops.h"

namespace x2v {

WanVaeEncoder::WanVaeEncoder(const WanVaeCheckpoint& checkpoint, const VaeContext& context)
    : z_dim_(checkpoint.config().z_dim), patch_(checkpoint.config().patch), context_(context) {
  const int64_t dim = checkpoint.config().dim, deepest = 4 * dim;
  conv_in_.load(checkpoint, "encoder.conv1", {dim, 3 * patch_ * patch_, 3, 3, 3}, context, slots_);
  if (checkpoint.config().wan22()) {
    downsamples_ = load_wan22_encoder_stages(checkpoint, context, slots_, per_frame_until_);
  } else {
    const std::vector<VaeLayerPlan> plan = wan_vae_encoder_plan(dim);
    per_frame_until_ = plan.size();
    for (size_t i = plan.size(); i-- > 0;)
      if (plan[i].kind == VaeLayerKind::downsample3d) per_frame_until_ = i;
    downsamples_ = load_vae_layers(checkpoint, "encoder.downsamples.", plan, context, slots_);
  }
  middle_ = load_vae_middle(checkpoint, "encoder.", deepest, context, slots_);
  norm_out_.load(checkpoint, "encoder.head.0.gamma", {deepest, 1, 1, 1}, context);
  conv_out_.load(checkpoint, "encoder.head.2", {2 * z_dim_, deepest, 3, 3, 3}, context, slots_);
  conv1_.load(checkpoint, "conv1", {2 * z_dim_, 2 * z_dim_, 1, 1, 1}, context, slots_);
}

Tensor WanVaeEncoder::encode_chunk(const Tensor& pixels, VaeStream& stream) const {
  const Tensor video = vae_patchify(pixels, patch_, context_);
  const int64_t frames = video.size(1);
  Tensor x;
  for (int64_t f = 0; f < frames; ++f) {
    Tensor y = conv_in_.forward(ops::contiguous(video.slice(1, f, f + 1)), stream);
    for (size_t i = 0; i < per_frame_until_; ++i) y = downsamples_[i]->forward(std::move(y), stream);
    if (!x.defined()) x = empty({y.size(0), frames, y.size(2), y.size(3)}, y.dtype(), *context_.device);
    Tensor target = x.slice(1, f, f + 1);
    ops::copy(y, target);
  }
  for (size_t i = per_frame_until_; i < downsamples_.size(); ++i)
    x = downsamples_[i]->forward(std::move(x), stream);
  for (const auto& layer : middle_) x = layer->forward(std::move(x), stream);
  const Tensor moments = conv1_.forward(conv_out_.forward_normed(std::move(x), norm_out_, stream), stream);
  stream.finish_chunk();
  return ops::contiguous(moments.slice(0, 0, z_dim_));  // mu; the log-variance half is not used
}

}  // namespace x2v
