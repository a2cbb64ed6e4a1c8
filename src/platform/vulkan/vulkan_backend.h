#pragma once
// What the vulkan kernels reach: the context, memory and dispatcher of the vulkan device.
#include "platform/device.h"
#include "platform/vulkan/vulkan_dispatch.h"

namespace x2v::vulkan {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Context& context() = 0;
  virtual Memory& memory() = 0;
  virtual Dispatcher& dispatcher() = 0;
  virtual Device& device() = 0;
};

// Registers the kernels that have shaders on `backend`'s device (vulkan_kernels.cpp).
void register_vulkan_kernels(Backend& backend, KernelRegistries& kernels);

}  // namespace x2v::vulkan
