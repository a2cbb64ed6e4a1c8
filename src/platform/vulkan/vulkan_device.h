#pragma once
// The vulkan platform: a Vulkan compute device (a GPU, or Mesa's lavapipe on a machine without one). Its
// kernels are GLSL compute shaders embedded as SPIR-V; what has no shader yet runs the cpu's kernel through
// host copies (host_fallback.h). Built when the Vulkan headers and glslc are found.
#include <memory>

#include "platform/device.h"

namespace x2v {

// The device is registered even without a driver (then it is unavailable and says why); the Vulkan instance
// is created on first use.
std::unique_ptr<Device> create_vulkan_device();

}  // namespace x2v
