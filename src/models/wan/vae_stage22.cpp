#include "models/wan/vae_stage22.h"

#include "core/error.h"
#include "core/text.h"
#include "platform/ops.h"

namespace x2v {
namespace {

constexpr int64_t kDimMult[] = {1, 2, 4, 4};
constexpr int kResidualBlocks = 2;
constexpr bool kTemporalDownsample[] = {false, true,
                                        true};  // Wan2.2's, encoder order; the decoder reverses it

}  // namespace

VaeShortcutStage::VaeShortcutStage(const WanVaeCheckpoint& checkpoint, const std::string& inner_prefix,
                                   const std::vector<VaeLayerPlan>& inner, Shortcut shortcut,
                                   int64_t in_channels, int64_t out_channels, int64_t time_factor,
                                   int64_t space_factor, const VaeContext& context, VaeSlotCounter& slots)
    : context_(context),
      inner_(load_vae_layers(checkpoint, inner_prefix, inner, context, slots)),
      shortcut_(shortcut),
      in_channels_(in_channels),
      out_channels_(out_channels),
      time_factor_(time_factor),
      space_factor_(space_factor) {
  const int64_t factor = time_factor * space_factor * space_factor;
  if (shortcut == Shortcut::average_down && (in_channels * factor) % out_channels != 0)
    throw InternalError("wan vae", concat("AvgDown3D of ", in_channels, " -> ", out_channels, " channels"));
  if (shortcut == Shortcut::duplicate_up) {
    const int64_t repeats = out_channels * factor / in_channels;
    if ((out_channels * factor) % in_channels != 0 || factor % repeats != 0)
      throw InternalError("wan vae", concat("DupUp3D of ", in_channels, " -> ", out_channels, " channels"));
  }
}

Tensor VaeShortcutStage::forward(Tensor x, VaeStream& stream) const {
  // The shortcut reads the stage's input, so it is taken before the blocks consume it.
  Tensor shortcut;
  if (shortcut_ == Shortcut::average_down) shortcut = average_down(x);
  if (shortcut_ == Shortcut::duplicate_up) shortcut = duplicate_up(x, stream.first_chunk());
  for (const auto& layer : inner_) x = layer->forward(std::move(x), stream);
  if (shortcut.defined()) ops::add(x, shortcut, x);
  return x;
}

Tensor VaeShortcutStage::average_down(const Tensor& x) const {
  Device& device = *context_.device;
  const int64_t ft = time_factor_, fs = space_factor_, factor = ft * fs * fs;
  const int64_t channels = x.size(0), height = x.size(2), width = x.size(3);
  // Zero frames in front up to a multiple of the time factor (vae2_2.py pads each chunk so).
  const int64_t pad = (ft - x.size(1) % ft) % ft, frames = (x.size(1) + pad) / ft;
  Tensor padded = x;
  if (pad > 0) {
    padded = empty({channels, x.size(1) + pad, height, width}, x.dtype(), device);
    Tensor zeros = padded.slice(1, 0, pad), rest = padded.slice(1, pad, pad + x.size(1));
    ops::fill(zeros, 0.0f);
    ops::copy(x, rest);
  } else {
    padded = ops::contiguous(x);
  }
  const int64_t h = height / fs, w = width / fs;
  // vae2_2.py stacks channel c * factor + (dt * fs + dh) * fs + dw (pixel (dh, dw) of frame dt of each block)
  // and averages groups of `group` consecutive channels. Here the stack is laid out [group, out] (n = o *
  // group + g), so each group member is one contiguous tensor to add.
  const int64_t group = channels * factor / out_channels_;
  if (factor % group != 0) throw InternalError("wan vae", concat("AvgDown3D group ", group, " of ", factor));
  Tensor stacked = empty({group, out_channels_, frames, h, w}, x.dtype(), device);
  const Tensor blocks = padded.reshape({channels, frames, ft, h, fs, w, fs});
  for (int64_t dt = 0; dt < ft; ++dt)
    for (int64_t dh = 0; dh < fs; ++dh)
      for (int64_t dw = 0; dw < fs; ++dw) {
        const int64_t k = (dt * fs + dh) * fs +
                          dw;  // n = c * factor + k: g = k % group, o = c * (factor / group) + k / group
        Tensor target = stacked.select(0, k % group)
                            .reshape({channels, factor / group, frames, h, w})
                            .select(1, k / group);
        ops::copy(blocks.select(6, dw).select(4, dh).select(2, dt), target);
      }
  Tensor out = empty({out_channels_, frames, h, w}, x.dtype(), device);
  ops::copy(stacked.select(0, 0), out);
  for (int64_t g = 1; g < group; ++g) ops::add(out, stacked.select(0, g), out);
  ops::scale(out, 1.0f / static_cast<float>(group), 0.0f, out);
  return out;
}

Tensor VaeShortcutStage::duplicate_up(const Tensor& x, bool first_chunk) const {
  Device& device = *context_.device;
  const int64_t ft = time_factor_, fs = space_factor_, factor = ft * fs * fs;
  const int64_t frames = x.size(1), height = x.size(2), width = x.size(3);
  const int64_t repeats = out_channels_ * factor / in_channels_;
  // Repeating each input channel `repeats` times and splitting the result into (out, factor): offset k of
  // output channel o comes from input channel o * (factor / repeats) + k / repeats.
  const Tensor source = ops::contiguous(x).reshape({out_channels_, factor / repeats, frames, height, width});
  Tensor out = empty({out_channels_, frames * ft, height * fs, width * fs}, x.dtype(), device);
  const Tensor blocks = out.reshape({out_channels_, frames, ft, height, fs, width, fs});
  for (int64_t dt = 0; dt < ft; ++dt)
    for (int64_t dh = 0; dh < fs; ++dh)
      for (int64_t dw = 0; dw < fs; ++dw) {
        const int64_t k = (dt * fs + dh) * fs + dw;
        Tensor target = blocks.select(6, dw).select(4, dh).select(2, dt);
        ops::copy(source.select(1, k / repeats), target);
      }
  // A stream's first latent frame makes one frame: the first ft - 1 are dropped, as in vae2_2.py.
  if (first_chunk && ft > 1) return ops::contiguous(out.slice(1, ft - 1, frames * ft));
  return out;
}

std::vector<std::unique_ptr<VaeLayer>> load_wan22_encoder_stages(const WanVaeCheckpoint& checkpoint,
                                                                 const VaeContext& context,
                                                                 VaeSlotCounter& slots,
                                                                 size_t& per_frame_until) {
  const int64_t dim = checkpoint.config().dim;
  std::vector<std::unique_ptr<VaeLayer>> stages;
  per_frame_until = 4;
  int64_t in = dim;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t out = dim * kDimMult[stage];
    const bool down = stage != 3, in_time = down && kTemporalDownsample[stage];
    std::vector<VaeLayerPlan> inner;
    for (int block = 0; block < kResidualBlocks; ++block)
      inner.push_back({VaeLayerKind::residual, block == 0 ? in : out, out});
    if (down) inner.push_back({in_time ? VaeLayerKind::downsample3d : VaeLayerKind::downsample2d, out, out});
    auto layer = std::make_unique<VaeShortcutStage>(
        checkpoint, concat("encoder.downsamples.", stage, ".downsamples."), inner,
        VaeShortcutStage::Shortcut::average_down, in, out, in_time ? 2 : 1, down ? 2 : 1, context, slots);
    if (in_time && per_frame_until == 4) per_frame_until = static_cast<size_t>(stage);
    stages.push_back(std::move(layer));
    in = out;
  }
  return stages;
}

std::vector<std::unique_ptr<VaeLayer>> load_wan22_decoder_stages(const WanVaeCheckpoint& checkpoint,
                                                                 const VaeContext& context,
                                                                 VaeSlotCounter& slots,
                                                                 size_t& per_frame_from) {
  const int64_t dim = checkpoint.config().decoder_dim;
  const int64_t widths[] = {dim * kDimMult[3], dim * kDimMult[3], dim * kDimMult[2], dim * kDimMult[1],
                            dim * kDimMult[0]};
  std::vector<std::unique_ptr<VaeLayer>> stages;
  per_frame_from = 0;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t in = widths[stage], out = widths[stage + 1];
    const bool up = stage != 3, in_time = up && kTemporalDownsample[2 - stage];
    std::vector<VaeLayerPlan> inner;
    for (int block = 0; block < kResidualBlocks + 1; ++block)
      inner.push_back({VaeLayerKind::residual, block == 0 ? in : out, out});
    if (up) inner.push_back({in_time ? VaeLayerKind::upsample3d : VaeLayerKind::upsample2d, out, out});
    stages.push_back(std::make_unique<VaeShortcutStage>(
        checkpoint, concat("decoder.upsamples.", stage, ".upsamples."), inner,
        up ? VaeShortcutStage::Shortcut::duplicate_up : VaeShortcutStage::Shortcut::none, in, out,
        in_time ? 2 : 1, up ? 2 : 1, context, slots));
    if (in_time) per_frame_from = static_cast<size_t>(stage) + 1;
  }
  return stages;
}

Tensor vae_patchify(const Tensor& x, int64_t patch, const VaeContext& context) {
  if (patch == 1) return x;
  const int64_t channels = x.size(0), frames = x.size(1), h = x.size(2) / patch, w = x.size(3) / patch;
  Tensor out = empty({channels * patch * patch, frames, h, w}, x.dtype(), *context.device);
  const Tensor pixels = ops::contiguous(x).reshape({channels, frames, h, patch, w, patch});
  const Tensor by_offset = out.reshape({channels, patch, patch, frames, h, w});  // (c, column, row)
  for (int64_t column = 0; column < patch; ++column)
    for (int64_t row = 0; row < patch; ++row) {
      Tensor target = by_offset.select(2, row).select(1, column);
      ops::copy(pixels.select(5, column).select(3, row), target);
    }
  return out;
}

Tensor vae_unpatchify(const Tensor& x, int64_t patch, const VaeContext& context) {
  if (patch == 1) return x;
  const int64_t channels = x.size(0) / (patch * patch), frames = x.size(1), h = x.size(2), w = x.size(3);
  Tensor out = empty({channels, frames, h * patch, w * patch}, x.dtype(), *context.device);
  const Tensor pixels = out.reshape({channels, frames, h, patch, w, patch});
  const Tensor by_offset = ops::contiguous(x).reshape({channels, patch, patch, frames, h, w});
  for (int64_t column = 0; column < patch; ++column)
    for (int64_t row = 0; row < patch; ++row) {
      Tensor target = pixels.select(5, column).select(3, row);
      ops::copy(by_offset.select(2, row).select(1, column), target);
    }
  return out;
}

}  // namespace x2v
