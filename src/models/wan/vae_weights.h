#pragma once
// Wan2.1 VAE checkpoints: the layer plan of the architecture (dim_mult [1, 2, 4, 4], 2 residual blocks,
// temporal down/upsampling in the two deepest stages), the tensor table it implies, the two naming
// schemes (the original Wan2.1_VAE.pth names and diffusers' AutoencoderKLWan names, detected from the
// keys) and loading a tensor by its original name with its shape checked.
#include <string>
#include <utility>
#include <vector>

#include "io/checkpoint.h"
#include "models/wan/dit_weights.h"
#include "platform/device.h"

namespace x2v {

struct WanVaeConfig {
  int64_t dim = 96;    // base width: the stages are dim x [1, 2, 4, 4]
  int64_t z_dim = 16;  // latent channels
  // Wan2.2's VAE (TI2V-5B): frames go in and out as 2x2 pixel patches (12 channels), the decoder has its own
  // base width (256 against the encoder's 160), and its stages add parameter-free shortcuts.
  int64_t patch = 1;
  int64_t decoder_dim = 96;
  bool wan22() const { return patch == 2; }
  int64_t spatial_factor() const { return 8 * patch; }
  std::string describe() const;
};

// One entry of encoder.downsamples / decoder.upsamples.
enum class VaeLayerKind { residual, downsample2d, downsample3d, upsample2d, upsample3d };
struct VaeLayerPlan {
  VaeLayerKind kind;
  int64_t in_channels;
  int64_t out_channels;  // resamples: downsample keeps the width, upsample halves it
};
std::vector<VaeLayerPlan> wan_vae_encoder_plan(int64_t dim);
std::vector<VaeLayerPlan> wan_vae_decoder_plan(int64_t dim);

// Every tensor of the VAE, original names, with its shape as stored (gammas [C, 1, 1, 1] or [C, 1, 1]).
std::vector<std::pair<std::string, Shape>> wan_vae_tensor_shapes(int64_t dim, int64_t z_dim);
// Every tensor of the Wan2.2 VAE (Wan2.2_VAE.pth's names): encoder and decoder base widths, latent channels.
std::vector<std::pair<std::string, Shape>> wan22_vae_tensor_shapes(int64_t dim, int64_t decoder_dim,
                                                                   int64_t z_dim);
// The AutoencoderKLWan name of an original tensor name (e.g. decoder.upsamples.3.time_conv.weight ->
// decoder.up_blocks.0.upsamplers.0.time_conv.weight).
std::string wan_vae_diffusers_name(const std::string& original_name);

class WanVaeCheckpoint {
 public:
  // Detects the naming and reads dim and z_dim from the shapes; throws Error when `checkpoint` is not a
  // Wan2.1 VAE. The checkpoint must outlive this object.
  explicit WanVaeCheckpoint(const io::Checkpoint& checkpoint);

  const WanVaeConfig& config() const { return config_; }
  WanWeightNaming naming() const { return naming_; }
  const io::Checkpoint& checkpoint() const { return *checkpoint_; }
  std::string file_name(const std::string& original_name) const;
  // The tensor `original_name` checked against `expected`, converted to `dtype` on `device`. Throws
  // Error naming the tensor when it is missing or misshaped.
  Tensor load(const std::string& original_name, const Shape& expected, DType dtype, Device& device) const;

 private:
  const io::Checkpoint* checkpoint_;
  WanVaeConfig config_;
  WanWeightNaming naming_ = WanWeightNaming::original;
};

}  // namespace x2v
