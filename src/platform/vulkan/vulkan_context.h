#pragma once
// The Vulkan instance, the chosen physical device, its logical device and compute queue, and one-shot command
// submission. Created on first use (probing for a driver costs time, and a cpu run never needs it).
#include <vulkan/vulkan.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace x2v::vulkan {

struct DeviceLimits {
  uint64_t max_storage_buffer_range = 0;
  uint64_t max_buffer_size = 0;
  uint64_t max_allocation_size = 0;
  uint64_t min_storage_offset_alignment = 1;
  uint32_t max_workgroup_count = 65535;
  uint64_t heap_bytes = 0;  // the largest device-local heap
  // Loop iterations one invocation may run in all. llvmpipe (lavapipe) stops every loop of an invocation
  // once 65535 iterations have run in total (its guard against endless shaders), silently: kernels whose
  // invocations would loop longer take their fallback there. Other drivers: no limit.
  uint64_t loop_iteration_budget = UINT64_MAX;
  // Multiply-adds one call may ask of the device. On a CPU-backed device (lavapipe) the host's own kernels
  // are far faster for large calls (a VAE decode: minutes instead of a second), so those run on the host
  // there.
  uint64_t work_budget = UINT64_MAX;
};

class Context {
 public:
  // Throws Error naming what is missing (no loader, no driver, no device, X2V_VULKAN_DEVICE out of range).
  Context();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  VkDevice device() const { return device_; }
  VkPhysicalDevice physical_device() const { return physical_device_; }
  const DeviceLimits& limits() const { return limits_; }
  // "llvmpipe (LLVM 15.0.6, 256 bits); driver Mesa 22.3.6; Vulkan 1.3.230; 2.00 GiB; subgroup 8; fp16, int8"
  const std::string& description() const { return description_; }
  bool validation() const { return validation_; }
  // storageBuffer16BitAccess: the shaders read and write f32, bf16 and f16 through 16-bit views and need it;
  // without it every vulkan kernel takes its host fallback.
  bool storage16() const { return storage16_; }

  // The memory type index for `type_bits` with `required` flags, preferring `preferred`; -1 when none fits.
  int memory_type(uint32_t type_bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const;
  // Host-visible and coherent: mapped copies need no flush or invalidate.
  bool memory_type_is_host_coherent(int type) const;

  // Records commands with `record`, submits them on the compute queue and waits for them. Throws Error for a
  // failed submission and for any validation message raised meanwhile.
  void submit_and_wait(const std::function<void(VkCommandBuffer)>& record);
  // Throws Error when the validation layer reported an error or warning since the last check.
  void check_validation(const char* what);

 private:
  void create_instance();
  void pick_physical_device();
  void create_device();
  void destroy();

  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_properties_{};
  DeviceLimits limits_;
  std::string description_;
  bool validation_ = false;
  bool storage16_ = false;
  std::mutex submit_mutex_;

 public:
  // Validation messages (errors and warnings) not yet reported; written by the messenger callback.
  std::mutex messages_mutex;
  std::vector<std::string> messages;
};

// Throws Error naming `what` and the VkResult unless `result` is VK_SUCCESS.
void check(VkResult result, const char* what);

}  // namespace x2v::vulkan
