#pragma once
// The Wan2.1 VAE's building blocks on channel-first video tensors [C, T, H, W], run chunk by chunk in
// time. Causality across chunks comes from a per-stream state: every temporal convolution keeps the last
// input frames it saw (zeros before the first), so a stream of chunks computes exactly what one pass
// over the whole video would, with memory bounded by the chunk size. The blocks hold only weights and
// kernels; a VaeStream holds the frame histories, so one model can run several streams (spatial tiles).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/common/linear.h"
#include "models/wan/vae_weights.h"
#include "parallel/patch_grid.h"

namespace x2v {

// Where the blocks run and which kernels they use ("" = the platform's default).
struct VaeContext {
  Device* device = nullptr;
  DType dtype = DType::f32;  // activations (and weights as loaded); kernels compute in f32
  std::string conv_kernel, mm_kernel, attention_kernel;
  // Patch parallel: the spatial convolutions do not pad; their input's border comes from the stream's split
  // (the neighbouring tiles' pixels, zeros at the image's edge), so tiles decode exactly as the whole would.
  bool halo_padding = false;
};

// The causal state of one stream: per temporal convolution the frames it keeps, and the chunk index
// (layers treat the first chunk specially, as the reference does); with patch parallel, the split.
class VaeStream {
 public:
  explicit VaeStream(size_t slots) : history_(slots) {}
  Tensor& history(size_t slot) { return history_.at(slot); }
  bool first_chunk() const { return chunks_done_ == 0; }
  void finish_chunk() { ++chunks_done_; }
  // Patch parallel: this stream decodes one tile of each frame.
  void set_split(const PatchGrid* split) { split_ = split; }
  // Throws InternalError when a halo-padding model runs without one.
  const PatchGrid& split() const;
  bool has_split() const { return split_ != nullptr; }

 private:
  std::vector<Tensor> history_;
  int64_t chunks_done_ = 0;
  const PatchGrid* split_ = nullptr;
};

// Hands out history slots to the temporal convolutions of one model while it loads.
struct VaeSlotCounter {
  size_t count = 0;
  size_t next() { return count++; }
};

class VaeNorm;

// Conv3d with kernel [O, I, kt, k, k]: spatial padding k/2 on each side; kt = 3 is causal in time and
// keeps the last two input frames of the stream; kt = 1 is pointwise in time.
class CausalConv3d {
 public:
  void load(const WanVaeCheckpoint& checkpoint, const std::string& name, const Shape& weight_shape,
            const VaeContext& context, VaeSlotCounter& slots);
  Tensor forward(Tensor x, VaeStream& stream) const;
  // conv(SiLU(norm(x))), the norm writing straight into the conv's time window (no extra pass).
  Tensor forward_normed(Tensor x, const VaeNorm& norm, VaeStream& stream) const;

 private:
  // The conv over [kept frames, the frames `fill` writes] for new frames of `frames_shape`.
  Tensor convolve(const Shape& frames_shape, const std::function<void(Tensor&)>& fill,
                  VaeStream& stream) const;

  // x with the border a halo-padding model's spatial kernel needs (x itself otherwise).
  Tensor bordered(Tensor x, VaeStream& stream) const;

  VaeContext context_;
  std::unique_ptr<ConvKernel> kernel_;
  int64_t time_kernel_ = 1;
  bool takes_halo_ = false;  // halo_padding and a 3x3 spatial kernel
  size_t slot_ = 0;
};

// RMS_norm over the channels (dim 0), optionally followed by SiLU.
class VaeNorm {
 public:
  void load(const WanVaeCheckpoint& checkpoint, const std::string& name, const Shape& gamma_shape,
            const VaeContext& context);
  Tensor forward(const Tensor& x, bool silu) const;
  void forward_into(const Tensor& x, bool silu, Tensor& out) const;  // out: contiguous per channel

 private:
  Tensor gamma_;  // [C] f32
};

class VaeLayer {
 public:
  virtual ~VaeLayer() = default;
  virtual Tensor forward(Tensor x, VaeStream& stream) const = 0;
};

// x + residual(x): [norm, SiLU, conv3, norm, SiLU, conv3]; a pointwise shortcut conv when widths differ.
class VaeResidualBlock final : public VaeLayer {
 public:
  VaeResidualBlock(const WanVaeCheckpoint& checkpoint, const std::string& prefix, int64_t in, int64_t out,
                   const VaeContext& context, VaeSlotCounter& slots);
  Tensor forward(Tensor x, VaeStream& stream) const override;

 private:
  VaeNorm norm1_, norm2_;
  CausalConv3d conv1_, conv2_;
  std::unique_ptr<CausalConv3d> shortcut_;
};

// Single-head self-attention over the H*W positions of each frame (head_dim = C), with a residual.
class VaeAttentionBlock final : public VaeLayer {
 public:
  VaeAttentionBlock(const WanVaeCheckpoint& checkpoint, const std::string& prefix, int64_t channels,
                    const VaeContext& context);
  Tensor forward(Tensor x, VaeStream& stream) const override;

 private:
  // The attention over the whole frames x [C, T, H, W].
  Tensor attend(const Tensor& x) const;

  VaeContext context_;
  int64_t channels_;
  VaeNorm norm_;
  Linear to_qkv_, proj_;
  std::unique_ptr<AttentionKernel> attention_;
};

// Spatial 2x down/upsampling per frame, with the temporal 2x of the 3d modes:
//  upsample3d:   time_conv (causal, C -> 2C) whose channel halves become frames 2t and 2t+1; the stream's
//                first chunk skips it (one frame stays one frame), so frame 0 never enters its history
//  downsample3d: after the spatial step, conv over [last frame of the previous chunk, chunk] with time
//                stride 2; the first chunk passes through
class VaeResample final : public VaeLayer {
 public:
  // `out_channels`: the spatial conv's output width (upsampling: half the input in Wan2.1, the same in
  // Wan2.2;
  // downsampling keeps the width).
  VaeResample(const WanVaeCheckpoint& checkpoint, const std::string& prefix, VaeLayerKind kind,
              int64_t channels, int64_t out_channels, const VaeContext& context, VaeSlotCounter& slots);
  Tensor forward(Tensor x, VaeStream& stream) const override;

 private:
  Tensor upsample(Tensor x, VaeStream& stream) const;
  Tensor downsample(Tensor x, VaeStream& stream) const;

  VaeContext context_;
  VaeLayerKind kind_;
  int64_t channels_;
  std::unique_ptr<ConvKernel> spatial_;    // resample.1, a per-frame 3x3 conv run as a 1x3x3 conv3d
  std::unique_ptr<ConvKernel> down_time_;  // downsample3d's time_conv
  std::unique_ptr<CausalConv3d> up_time_;  // upsample3d's time_conv
  size_t slot_ = 0;                        // downsample3d: the kept frame
};

// The layers of encoder.downsamples / decoder.upsamples (or any list), applied in order.
std::vector<std::unique_ptr<VaeLayer>> load_vae_layers(const WanVaeCheckpoint& checkpoint,
                                                       const std::string& prefix,
                                                       const std::vector<VaeLayerPlan>& plan,
                                                       const VaeContext& context, VaeSlotCounter& slots);
// The middle of encoder and decoder: residual, attention, residual at `channels`.
std::vector<std::unique_ptr<VaeLayer>> load_vae_middle(const WanVaeCheckpoint& checkpoint,
                                                       const std::string& prefix, int64_t channels,
                                                       const VaeContext& context, VaeSlotCounter& slots);

// A time window [C, keep + n, H, W] for new frames of `frames_shape` [C, n, H, W]: `history`
// ([C, keep, H, W], zeros when undefined) in front, then the n frames `fill` writes into the view it is
// given. `history` becomes the window's last `keep` frames.
Tensor make_window(const Shape& frames_shape, DType dtype, Device& device, Tensor& history, int64_t keep,
                   const std::function<void(Tensor&)>& fill);

}  // namespace x2v
