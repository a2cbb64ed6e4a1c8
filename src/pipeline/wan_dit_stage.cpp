#include "pipeline/wan_dit_stage.h"

#include "models/common/precision.h"

namespace x2v {

WanDit WanDitStage::load(const std::string& path, const io::Config& config, Device& device) {
  const WanDitKernels kernels = WanDitKernels::from_config(config);
  kernels.check(device);
  const OffloadOptions offload = OffloadOptions::from_config(config);
  auto checkpoint = std::make_shared<const WanDitCheckpoint>(open_wan_dit_checkpoint(path, config));
  return WanDit(std::move(checkpoint), kernels, Precision::from_environment(), device, offload);
}

std::unique_ptr<WanDit> WanDitStage::open_model(const std::string& path, const io::Config& config,
                                                Device& device) {
  return std::make_unique<WanDit>(load(path, config, device));
}

WanDitStage::WanDitStage(const std::string& path, const io::Config& config, Device& device)
    : options_(WanSamplingOptions::from_config(config)), model_(load(path, config, device)) {}

std::string wan_dit_task(const std::string& path) {
  return WanDitCheckpoint::open(path).config().takes_y() ? "i2v" : "t2v";
}

}  // namespace x2v
