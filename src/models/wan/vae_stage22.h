#pragma once
// Wan2.2's VAE stages (TI2V-5B's VAE, wan/modules/vae2_2.py): residual blocks and a resample as in Wan2.1,
// plus a parameter-free shortcut around them: going down, AvgDown3D moves 2x2 pixels (and 2 frames where the
// stage halves time) into channels and averages channel groups; going up, DupUp3D repeats channels and moves
// them back into pixels and frames. Frames and pixels also go in and out of the VAE as 2x2 patches (12
// channels).
#include <memory>
#include <string>
#include <vector>

#include "models/wan/vae_blocks.h"

namespace x2v {

class VaeShortcutStage final : public VaeLayer {
 public:
  enum class Shortcut { none, average_down, duplicate_up };
  // `inner`: the stage's residual blocks and resample, named `prefix` + "downsamples."/"upsamples." + index.
  VaeShortcutStage(const WanVaeCheckpoint& checkpoint, const std::string& inner_prefix,
                   const std::vector<VaeLayerPlan>& inner, Shortcut shortcut, int64_t in_channels,
                   int64_t out_channels, int64_t time_factor, int64_t space_factor, const VaeContext& context,
                   VaeSlotCounter& slots);
  Tensor forward(Tensor x, VaeStream& stream) const override;
  bool temporal() const { return time_factor_ > 1; }

 private:
  Tensor average_down(const Tensor& x) const;
  Tensor duplicate_up(const Tensor& x, bool first_chunk) const;

  VaeContext context_;
  std::vector<std::unique_ptr<VaeLayer>> inner_;
  Shortcut shortcut_;
  int64_t in_channels_, out_channels_, time_factor_, space_factor_;
};

// The encoder's four stages (encoder.downsamples.N); `per_frame_until` gets the first stage that works on
// time.
std::vector<std::unique_ptr<VaeLayer>> load_wan22_encoder_stages(const WanVaeCheckpoint& checkpoint,
                                                                 const VaeContext& context,
                                                                 VaeSlotCounter& slots,
                                                                 size_t& per_frame_until);
// The decoder's four stages (decoder.upsamples.N); `per_frame_from` gets the stage after the last that works
// on time.
std::vector<std::unique_ptr<VaeLayer>> load_wan22_decoder_stages(const WanVaeCheckpoint& checkpoint,
                                                                 const VaeContext& context,
                                                                 VaeSlotCounter& slots,
                                                                 size_t& per_frame_from);

// x [C, T, H, W] -> [C * p * p, T, H / p, W / p], channel (c * p + column) * p + row, as vae2_2.py's patchify
// ("b c f (h q) (w r) -> b (c r q) f h w"); unpatchify is its inverse.
Tensor vae_patchify(const Tensor& x, int64_t patch, const VaeContext& context);
Tensor vae_unpatchify(const Tensor& x, int64_t patch, const VaeContext& context);

}  // namespace x2v
