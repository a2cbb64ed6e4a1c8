#include "platform/vulkan/vulkan_coopmat.h"

#include <cstdlib>
#include <cstring>
#include <vector>

namespace x2v::vulkan {
namespace {

// The extension's values (VK_KHR_cooperative_matrix, revision 2).
constexpr auto kFeaturesType = static_cast<VkStructureType>(1000506000);
constexpr auto kPropertiesType = static_cast<VkStructureType>(1000506001);
constexpr int32_t kComponentFloat16 = 0, kComponentFloat32 = 1, kScopeSubgroup = 3;

struct CooperativeMatrixPropertiesKHR {
  VkStructureType sType;
  void* pNext;
  uint32_t MSize, NSize, KSize;
  int32_t AType, BType, CType, ResultType;
  VkBool32 saturatingAccumulation;
  int32_t scope;
};
using PropertiesFunction = VkResult(VKAPI_PTR*)(VkPhysicalDevice, uint32_t*, CooperativeMatrixPropertiesKHR*);

}  // namespace

void* CooperativeMatrixSupport::chain(void* next) {
  memory_model.pNext = next;
  float16.pNext = &memory_model;
  features.pNext = &float16;
  return &features;
}

CooperativeMatrixSupport probe_cooperative_matrix(VkInstance instance, VkPhysicalDevice device,
                                                  bool has_extension, bool shader_built) {
  CooperativeMatrixSupport support;
  if (!shader_built) {
    support.description = "not built (glslc without GL_KHR_cooperative_matrix)";
    return support;
  }
  if (!has_extension) {
    support.description = "no (the device lacks VK_KHR_cooperative_matrix)";
    return support;
  }
  auto properties_of = reinterpret_cast<PropertiesFunction>(
      vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR"));
  uint32_t count = 0;
  if (properties_of == nullptr || properties_of(device, &count, nullptr) != VK_SUCCESS) {
    support.description = "no (its properties cannot be queried)";
    return support;
  }
  std::vector<CooperativeMatrixPropertiesKHR> configurations(count);
  for (auto& configuration : configurations) {
    configuration = CooperativeMatrixPropertiesKHR{};
    configuration.sType = kPropertiesType;
  }
  properties_of(device, &count, configurations.data());
  bool found = false;
  for (const auto& c : configurations)
    found = found || (c.MSize == 16 && c.NSize == 16 && c.KSize == 16 && c.AType == kComponentFloat16 &&
                      c.BType == kComponentFloat16 && c.CType == kComponentFloat32 &&
                      c.ResultType == kComponentFloat32 && c.scope == kScopeSubgroup);
  support.features = CooperativeMatrixFeaturesKHR{};
  support.features.sType = kFeaturesType;
  support.float16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
  support.memory_model.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES;
  VkPhysicalDeviceFeatures2 query{};
  query.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  query.pNext = support.chain(nullptr);
  vkGetPhysicalDeviceFeatures2(device, &query);
  if (!found || support.features.cooperativeMatrix != VK_TRUE || support.float16.shaderFloat16 != VK_TRUE ||
      support.memory_model.vulkanMemoryModel != VK_TRUE) {
    support.description =
        "no (no f16 16x16x16 subgroup configuration, or f16 arithmetic or the memory model missing)";
    return support;
  }
  const char* choice = std::getenv("X2V_VULKAN_COOPMAT");
  if (choice != nullptr && std::strcmp(choice, "0") == 0) {
    support.description = "off (X2V_VULKAN_COOPMAT=0)";
    return support;
  }
  // Enable exactly what the shader needs.
  support.features = CooperativeMatrixFeaturesKHR{kFeaturesType, nullptr, VK_TRUE, VK_FALSE};
  support.float16 = VkPhysicalDeviceShaderFloat16Int8Features{};
  support.float16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
  support.float16.shaderFloat16 = VK_TRUE;
  support.memory_model = VkPhysicalDeviceVulkanMemoryModelFeatures{};
  support.memory_model.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES;
  support.memory_model.vulkanMemoryModel = VK_TRUE;
  support.usable = true;
  support.description = "yes (unproven: never run on a GPU here)";
  return support;
}

}  // namespace x2v::vulkan
