#pragma once
// TAEHV's decoder (madebyollin/taehv), the tiny decoder LightX2V's use_tae runs in place of the Wan2.1 VAE
// decoder (taew2_1; LightTAE's lighttaew2_1 with need_scaled): 3x3 convolutions, MemBlocks that see the
// previous frame's input at their depth, nearest 2x upsampling and TGrow layers that turn one frame into
// two. It decodes frame by frame in causal order (taehv's sequential mode), so its memory is flat in the
// video's length. Written only against platform ops.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "platform/device.h"

namespace x2v {

// Every tensor of taew2_1's decoder ("decoder.<i>...") with its shape, in checkpoint order.
std::vector<std::pair<std::string, Shape>> taehv_decoder_tensor_shapes();

class TaehvDecoder {
 public:
  // The decoder of a TAEHV checkpoint ("decoder.<i>..." tensors, .pth or .safetensors). `need_scaled`
  // (LightTAE): the latents are un-normalized with the Wan2.1 VAE's mean and std first. Errors name a
  // checkpoint of another family (Wan2.2's 48 latent channels, a patch size above 1) and missing or
  // misshaped tensors. `dtype` (f32 or bf16) holds the weights and activations; the convolutions accumulate
  // in f32 either way. LightX2V's WanVAE_tiny runs in bf16.
  TaehvDecoder(const io::Checkpoint& checkpoint, Device& device, bool need_scaled, DType dtype = DType::f32);
  static std::unique_ptr<TaehvDecoder> open(const std::string& path, Device& device, bool need_scaled,
                                            DType dtype = DType::f32);
  ~TaehvDecoder();

  using FrameSink = std::function<void(const Tensor& frames)>;
  // latents [16, T, h, w] (host, normalized as the DiT produces them). Calls `sink` with each decoded frame
  // [3, 1, 8h, 8w] f32 host in [-1, 1]: 4T - 3 frames in all, as the Wan VAE gives.
  void decode(const Tensor& latents, const FrameSink& sink) const;

 private:
  struct Layer;
  struct State;
  void run(Tensor x, size_t first_layer, State& state, const FrameSink& sink) const;
  Tensor convolve(const Layer& layer, int which, const Tensor& x) const;
  Tensor upsample(const Tensor& x) const;

  Device* device_;
  bool need_scaled_;
  DType dtype_;
  std::vector<Layer> layers_;
};

}  // namespace x2v
