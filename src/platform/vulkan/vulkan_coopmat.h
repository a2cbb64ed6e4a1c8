#pragma once
// VK_KHR_cooperative_matrix: whether a device multiplies f16 16 x 16 x 16 tiles into f32 at subgroup scope
// (what shaders/mm_coopmat.comp asks), and the features to enable for it. The extension's structures are
// declared here, as the specification defines them, because the Vulkan headers of older distributions
// (1.3.239 in Debian 12) predate it.
#include <vulkan/vulkan.h>

#include <string>

namespace x2v::vulkan {

struct CooperativeMatrixFeaturesKHR {
  VkStructureType sType;
  void* pNext;
  VkBool32 cooperativeMatrix;
  VkBool32 cooperativeMatrixRobustBufferAccess;
};

// What the device offers for the shader, and the feature structures to chain into VkDeviceCreateInfo when
// `usable` (cooperative matrices, f16 arithmetic, the Vulkan memory model the extension's SPIR-V declares).
struct CooperativeMatrixSupport {
  bool usable = false;
  std::string description;  // "yes", "off (X2V_VULKAN_COOPMAT=0)", or why not
  CooperativeMatrixFeaturesKHR features{};
  VkPhysicalDeviceShaderFloat16Int8Features float16{};
  VkPhysicalDeviceVulkanMemoryModelFeatures memory_model{};
  // Links the three feature structures in front of `next`; returns the head to put in a pNext chain.
  void* chain(void* next);
};

// X2V_VULKAN_COOPMAT=0 turns it off. `has_extension`: the device lists VK_KHR_cooperative_matrix;
// `shader_built`: this build embeds mm_coopmat (glslc support).
CooperativeMatrixSupport probe_cooperative_matrix(VkInstance instance, VkPhysicalDevice device,
                                                  bool has_extension, bool shader_built);

}  // namespace x2v::vulkan
