#pragma once
// The Wan DiT as one stage, the way `x2v dit`, `x2v sample` and the text-to-video runner all load and run
// it: the checkpoint with the config's LoRAs merged, the config's kernels checked on the device first,
// the precision from DTYPE, the blocks resident or streamed as cpu_offload, offload_granularity and lazy_load
// say.
#include <string>

#include "io/config.h"
#include "models/wan/dit_model.h"
#include "pipeline/wan_sampling.h"
#include "platform/device.h"

namespace x2v {

class WanDitStage {
 public:
  // `path`: a model folder, a DiT checkpoint file or index.json. Kernel names and quant schemes are
  // resolved on `device` before any weight loads.
  WanDitStage(const std::string& path, const io::Config& config, Device& device);

  // One forward pass (x2v dit).
  Tensor forward(const WanDitInputs& inputs) const { return model_.forward(inputs); }
  // The whole denoising loop with the config's sampler and guidance (x2v sample, x2v infer).
  Tensor sample(const WanSamplingInputs& inputs) const {
    return sample_wan_latents(model_, inputs, options_, cfg_group_);
  }
  // Ulysses over `sequence`, CFG parallel over `cfg` (null: off); see ParallelGroups.
  void set_parallel(Communicator* sequence, Communicator* cfg) {
    model_.set_sequence_parallel(sequence);
    cfg_group_ = cfg;
  }

  const WanDit& model() const { return model_; }
  // The DiT alone, loaded as a stage loads it (Wan2.2's experts, one at a time).
  static std::unique_ptr<WanDit> open_model(const std::string& path, const io::Config& config,
                                            Device& device);
  const WanSamplingOptions& options() const { return options_; }

 private:
  static WanDit load(const std::string& path, const io::Config& config, Device& device);

  WanSamplingOptions options_;
  WanDit model_;
  Communicator* cfg_group_ = nullptr;
};

// "i2v" when the checkpoint at `path` has the image branch, else "t2v" (reads only the checkpoint's
// header), so a stage command loads the config for the task the weights are.
std::string wan_dit_task(const std::string& path);

}  // namespace x2v
