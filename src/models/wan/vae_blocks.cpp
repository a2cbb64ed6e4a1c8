#include "models/wan/vae_blocks.h"

#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {
namespace {

std::unique_ptr<ConvKernel> make_conv(const VaeContext& context, const Tensor& weight, const Tensor& bias,
                                      const ConvOptions& options) {
  std::unique_ptr<ConvKernel> kernel = context.device->kernels().conv.create(context.conv_kernel);
  kernel->load(weight, bias, options);
  return kernel;
}

Tensor run_conv(ConvKernel& kernel, const Tensor& x, const VaeContext& context) {
  const Tensor input = ops::contiguous(x);
  Tensor out = empty(kernel.output_shape(input.shape()), context.dtype, *context.device);
  kernel.apply(input, out);
  return out;
}

// A per-frame 2d conv weight [O, I, k, k] as the conv3d weight [O, I, 1, k, k] (a view), so frames are
// convolved in place in [C, T, H, W] without moving time into the batch.
Tensor per_frame_weight(const Tensor& weight) {
  return weight.reshape({weight.size(0), weight.size(1), 1, weight.size(2), weight.size(3)});
}

// [C, frames, H, W] from `frame(f)` = [C, 1, H, W] for each frame (the single result when there is one).
Tensor stack_frames(int64_t frames, const VaeContext& context, const std::function<Tensor(int64_t)>& frame) {
  Tensor out;
  for (int64_t f = 0; f < frames; ++f) {
    const Tensor result = frame(f);
    if (frames == 1) return result;
    if (!out.defined())
      out = empty({result.size(0), frames, result.size(2), result.size(3)}, result.dtype(), *context.device);
    Tensor target = out.slice(1, f, f + 1);
    ops::copy(result, target);
  }
  return out;
}

}  // namespace

Tensor make_window(const Shape& frames_shape, DType dtype, Device& device, Tensor& history, int64_t keep,
                   const std::function<void(Tensor&)>& fill) {
  const int64_t frames = frames_shape.at(1);
  Shape shape = frames_shape;
  shape[1] = keep + frames;
  Tensor window = empty(shape, dtype, device);
  Tensor past = window.slice(1, 0, keep), present = window.slice(1, keep, keep + frames);
  if (history.defined())
    ops::copy(history, past);
  else
    ops::fill(past, 0.0f);
  fill(present);
  shape[1] = keep;
  Tensor kept = empty(shape, dtype, device);
  ops::copy(window.slice(1, frames, frames + keep), kept);
  history = kept;
  return window;
}

const PatchGrid& VaeStream::split() const {
  if (split_ == nullptr)
    throw InternalError("wan vae", "a patch-parallel (halo padding) VAE stream has no spatial split");
  return *split_;
}

void CausalConv3d::load(const WanVaeCheckpoint& checkpoint, const std::string& name,
                        const Shape& weight_shape, const VaeContext& context, VaeSlotCounter& slots) {
  context_ = context;
  if (weight_shape.size() != 5 || (weight_shape[2] != 1 && weight_shape[2] != 3))
    throw InternalError("wan vae", concat(name, ": causal conv weight ", shape_to_string(weight_shape)));
  time_kernel_ = weight_shape[2];
  Device& device = *context.device;
  const Tensor weight = checkpoint.load(name + ".weight", weight_shape, context.dtype, device);
  const Tensor bias = checkpoint.load(name + ".bias", {weight_shape[0]}, context.dtype, device);
  takes_halo_ = context.halo_padding && weight_shape[3] > 1;
  const int64_t pad = takes_halo_ ? 0 : weight_shape[3] / 2;
  ConvOptions options;
  options.spatial_dims = 3;
  options.pad_begin = {0, pad, pad};  // time: the kept frames stand in for the causal padding
  options.pad_end = {0, pad, pad};
  kernel_ = make_conv(context, weight, bias, options);
  if (time_kernel_ == 3) slot_ = slots.next();
}

Tensor CausalConv3d::convolve(const Shape& frames_shape, const std::function<void(Tensor&)>& fill,
                              VaeStream& stream) const {
  const Tensor window = make_window(frames_shape, context_.dtype, *context_.device, stream.history(slot_),
                                    time_kernel_ - 1, fill);
  return run_conv(*kernel_, window, context_);
}

Tensor CausalConv3d::bordered(Tensor x, VaeStream& stream) const {
  return takes_halo_ ? stream.split().with_halo(x) : x;
}

Tensor CausalConv3d::forward(Tensor x, VaeStream& stream) const {
  x = bordered(std::move(x), stream);
  if (time_kernel_ == 1) return run_conv(*kernel_, x, context_);
  return convolve(
      x.shape(),
      [&](Tensor& present) {
        ops::copy(x, present);
        x = Tensor();  // the window holds these frames now; drop the caller's copy before the conv
      },
      stream);
}

Tensor CausalConv3d::forward_normed(Tensor x, const VaeNorm& norm, VaeStream& stream) const {
  // The border is the neighbours' normed values, so the norm runs before the exchange.
  if (takes_halo_) return forward(norm.forward(x, true), stream);
  if (time_kernel_ == 1) return run_conv(*kernel_, norm.forward(x, true), context_);
  return convolve(
      x.shape(),
      [&](Tensor& present) {
        norm.forward_into(x, true, present);
        x = Tensor();
      },
      stream);
}

void VaeNorm::load(const WanVaeCheckpoint& checkpoint, const std::string& name, const Shape& gamma_shape,
                   const VaeContext& context) {
  gamma_ = checkpoint.load(name, gamma_shape, DType::f32, *context.device).reshape({gamma_shape[0]});
}

Tensor VaeNorm::forward(const Tensor& x, bool silu) const {
  Tensor out = empty_like(x);
  forward_into(x, silu, out);
  return out;
}

void VaeNorm::forward_into(const Tensor& x, bool silu, Tensor& out) const {
  ops::channel_l2_norm(x, gamma_, out, silu);
}

VaeResidualBlock::VaeResidualBlock(const WanVaeCheckpoint& checkpoint, const std::string& prefix, int64_t in,
                                   int64_t out, const VaeContext& context, VaeSlotCounter& slots) {
  norm1_.load(checkpoint, prefix + "residual.0.gamma", {in, 1, 1, 1}, context);
  conv1_.load(checkpoint, prefix + "residual.2", {out, in, 3, 3, 3}, context, slots);
  norm2_.load(checkpoint, prefix + "residual.3.gamma", {out, 1, 1, 1}, context);
  conv2_.load(checkpoint, prefix + "residual.6", {out, out, 3, 3, 3}, context, slots);
  if (in != out) {
    shortcut_ = std::make_unique<CausalConv3d>();
    shortcut_->load(checkpoint, prefix + "shortcut", {out, in, 1, 1, 1}, context, slots);
  }
}

Tensor VaeResidualBlock::forward(Tensor x, VaeStream& stream) const {
  const Tensor shortcut = shortcut_ ? shortcut_->forward(x, stream) : x;
  Tensor y = conv1_.forward_normed(std::move(x), norm1_, stream);
  y = conv2_.forward_normed(std::move(y), norm2_, stream);
  ops::add(y, shortcut, y);
  return y;
}

VaeAttentionBlock::VaeAttentionBlock(const WanVaeCheckpoint& checkpoint, const std::string& prefix,
                                     int64_t channels, const VaeContext& context)
    : context_(context), channels_(channels) {
  Device& device = *context.device;
  const int64_t c = channels;
  norm_.load(checkpoint, prefix + "norm.gamma", {c, 1, 1}, context);
  // The 1x1 convs are linear layers over token-major [positions, C] rows.
  auto linear = [&](Linear& layer, const std::string& name, int64_t out) {
    const Tensor weight = checkpoint.load(prefix + name + ".weight", {out, c, 1, 1}, context.dtype, device);
    layer.load(device, context.mm_kernel, weight.reshape({out, c}),
               checkpoint.load(prefix + name + ".bias", {out}, context.dtype, device));
  };
  linear(to_qkv_, "to_qkv", 3 * c);
  linear(proj_, "proj", c);
  attention_ = device.kernels().attention.create(context.attention_kernel);
  attention_->load(AttentionOptions{});  // scale 1/sqrt(C)
}

Tensor VaeAttentionBlock::forward(Tensor x, VaeStream& stream) const {
  // Patch parallel: every position attends to the whole frame, so each rank attends over the assembled
  // frames and keeps its own tile of the result.
  if (stream.has_split()) return stream.split().tile(attend(stream.split().whole(x)));
  return attend(x);
}

Tensor VaeAttentionBlock::attend(const Tensor& x) const {
  Device& device = *context_.device;
  const DType dtype = context_.dtype;
  const int64_t c = channels_, frames = x.size(1), positions = x.size(2) * x.size(3);
  Tensor tokens = empty({frames, positions, c}, dtype, device);
  {
    const Tensor normed = norm_.forward(x, false);
    ops::copy(normed.reshape({c, frames, positions}).permute({1, 2, 0}), tokens);
  }
  Tensor attended = empty({frames, positions, c}, dtype, device);
  {
    const Tensor qkv = to_qkv_.forward(tokens, dtype);  // [frames, positions, 3C]: q, k, v channel blocks
    tokens = Tensor();
    auto part = [&](int64_t index) { return qkv.slice(2, index * c, (index + 1) * c).unsqueeze(1); };
    Tensor heads = attended.unsqueeze(1);  // frames as the batch, one head
    attention_->apply(part(0), part(1), part(2), heads);
  }
  const Tensor projected = proj_.forward(attended, dtype);
  attended = Tensor();
  Tensor out = empty(x.shape(), dtype, device);
  Tensor out_view = out.reshape({c, frames, positions});
  ops::copy(projected.permute({2, 0, 1}), out_view);
  ops::add(out, x, out);
  return out;
}

VaeResample::VaeResample(const WanVaeCheckpoint& checkpoint, const std::string& prefix, VaeLayerKind kind,
                         int64_t channels, int64_t out_channels, const VaeContext& context,
                         VaeSlotCounter& slots)
    : context_(context), kind_(kind), channels_(channels) {
  Device& device = *context.device;
  const int64_t c = channels;
  const bool up = kind == VaeLayerKind::upsample2d || kind == VaeLayerKind::upsample3d;
  if (kind == VaeLayerKind::residual) throw InternalError("wan vae", "a residual block is not a resample");
  const int64_t spatial_out = up ? out_channels : c;
  const Tensor weight =
      checkpoint.load(prefix + "resample.1.weight", {spatial_out, c, 3, 3}, context.dtype, device);
  const Tensor bias = checkpoint.load(prefix + "resample.1.bias", {spatial_out}, context.dtype, device);
  ConvOptions spatial;
  spatial.spatial_dims = 3;
  if (up && !context.halo_padding) {
    spatial.pad_begin = {0, 1, 1};
    spatial.pad_end = {0, 1, 1};
  } else if (!up) {
    if (context.halo_padding)
      throw InternalError("wan vae", "patch parallel (halo padding) runs the decoder only, not a downsample");
    spatial.stride = {1, 2, 2};
    spatial.pad_end = {0, 1, 1};  // ZeroPad2d((0, 1, 0, 1)): right and bottom only
  }
  spatial_ = make_conv(context, per_frame_weight(weight), bias, spatial);
  if (kind == VaeLayerKind::upsample3d) {
    up_time_ = std::make_unique<CausalConv3d>();
    up_time_->load(checkpoint, prefix + "time_conv", {2 * c, c, 3, 1, 1}, context, slots);
  }
  if (kind == VaeLayerKind::downsample3d) {
    ConvOptions time;
    time.spatial_dims = 3;
    time.stride = {2, 1, 1};
    down_time_ = make_conv(
        context, checkpoint.load(prefix + "time_conv.weight", {c, c, 3, 1, 1}, context.dtype, device),
        checkpoint.load(prefix + "time_conv.bias", {c}, context.dtype, device), time);
    slot_ = slots.next();
  }
}

Tensor VaeResample::forward(Tensor x, VaeStream& stream) const {
  if (kind_ == VaeLayerKind::upsample2d || kind_ == VaeLayerKind::upsample3d)
    return upsample(std::move(x), stream);
  return downsample(std::move(x), stream);
}

Tensor VaeResample::upsample(Tensor x, VaeStream& stream) const {
  Device& device = *context_.device;
  const int64_t c = channels_, height = x.size(2), width = x.size(3);
  if (kind_ == VaeLayerKind::upsample3d && !stream.first_chunk()) {
    const Tensor doubled = up_time_->forward(std::move(x), stream);  // [2C, n, h, w]
    const int64_t frames = doubled.size(1);
    // Channel block j of frame t becomes frame 2t + j.
    x = empty({c, 2 * frames, height, width}, context_.dtype, device);
    Tensor target = x.reshape({c, frames, 2, height, width});
    ops::copy(doubled.reshape({2, c, frames, height, width}).permute({1, 2, 0, 3, 4}), target);
  }
  // Frame by frame (resample.1 is a per-frame conv), so only one upsampled frame exists at a time.
  // Nearest 2x: a view repeating each pixel twice along H and W (stride 0), gathered by one copy.
  // Patch parallel: a one-pixel border upsampled is two pixels, of which the conv needs the inner one.
  const bool halo = context_.halo_padding;
  x = halo ? ops::contiguous(stream.split().with_halo(x)) : ops::contiguous(x);
  const int64_t frames = x.size(1), rows = x.size(2), columns = x.size(3), plane = rows * columns;
  return stack_frames(frames, context_, [&](int64_t f) {
    Tensor big = empty({c, 1, 2 * rows, 2 * columns}, context_.dtype, device);
    Tensor target = big.reshape({c, 1, rows, 2, columns, 2});
    ops::copy(x.as_strided({c, 1, rows, 2, columns, 2}, {frames * plane, plane, columns, 0, 1, 0},
                           x.offset() + f * plane),
              target);
    if (halo) big = big.slice(2, 1, 2 * rows - 1).slice(3, 1, 2 * columns - 1);
    return run_conv(*spatial_, big, context_);
  });
}

Tensor VaeResample::downsample(Tensor x, VaeStream& stream) const {
  Tensor y = stack_frames(x.size(1), context_,
                          [&](int64_t f) { return run_conv(*spatial_, x.slice(1, f, f + 1), context_); });
  x = Tensor();
  if (kind_ == VaeLayerKind::downsample2d) return y;
  Tensor& kept = stream.history(slot_);
  const int64_t frames = y.size(1);
  if (stream.first_chunk()) {
    // The first chunk passes through; its last frame leads the next chunk's window.
    Shape shape = y.shape();
    shape[1] = 1;
    kept = empty(shape, y.dtype(), *context_.device);
    ops::copy(y.slice(1, frames - 1, frames), kept);
    return y;
  }
  const Tensor window =
      make_window(y.shape(), context_.dtype, *context_.device, kept, 1, [&](Tensor& present) {
        ops::copy(y, present);
        y = Tensor();
      });
  return run_conv(*down_time_, window, context_);
}

std::vector<std::unique_ptr<VaeLayer>> load_vae_layers(const WanVaeCheckpoint& checkpoint,
                                                       const std::string& prefix,
                                                       const std::vector<VaeLayerPlan>& plan,
                                                       const VaeContext& context, VaeSlotCounter& slots) {
  std::vector<std::unique_ptr<VaeLayer>> layers;
  for (size_t i = 0; i < plan.size(); ++i) {
    const VaeLayerPlan& layer = plan[i];
    const std::string name = concat(prefix, i, ".");
    if (layer.kind == VaeLayerKind::residual)
      layers.push_back(std::make_unique<VaeResidualBlock>(checkpoint, name, layer.in_channels,
                                                          layer.out_channels, context, slots));
    else
      layers.push_back(std::make_unique<VaeResample>(checkpoint, name, layer.kind, layer.in_channels,
                                                     layer.out_channels, context, slots));
  }
  return layers;
}

std::vector<std::unique_ptr<VaeLayer>> load_vae_middle(const WanVaeCheckpoint& checkpoint,
                                                       const std::string& prefix, int64_t channels,
                                                       const VaeContext& context, VaeSlotCounter& slots) {
  std::vector<std::unique_ptr<VaeLayer>> layers;
  layers.push_back(std::make_unique<VaeResidualBlock>(checkpoint, prefix + "middle.0.", channels, channels,
                                                      context, slots));
  layers.push_back(std::make_unique<VaeAttentionBlock>(checkpoint, prefix + "middle.1.", channels, context));
  layers.push_back(std::make_unique<VaeResidualBlock>(checkpoint, prefix + "middle.2.", channels, channels,
                                                      context, slots));
  return layers;
}

}  // namespace x2v
