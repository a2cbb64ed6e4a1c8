#pragma once
// The Vulkan instance, the chosen physical device, its logical device and compute queue, and one-shot command
// submission. Created on first use (probing for a driver costs time, and a cpu run never needs it).
#include <vulkan/vulkan.h>

#include "platform/vulkan/vulkan_coopmat.h"

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
  // shaderIntegerDotProduct, enabled: the W8A8 matmul runs mm_int8_dot (OpSDot) rather than mm_int8.
  // X2V_VULKAN_INTEGER_DOT=0 turns it off.
  bool integer_dot() const { return integer_dot_; }
  // VK_KHR_cooperative_matrix with f16 16x16x16 tiles, enabled: float matmuls of 2-byte weights run
  // mm_coopmat. X2V_VULKAN_COOPMAT=0 turns it off.
  bool cooperative_matrix() const { return cooperative_matrix_.usable; }
  bool device_has_extension(const char* name) const;

  // The memory type index for `type_bits` with `required` flags, preferring `preferred`; -1 when none fits.
  int memory_type(uint32_t type_bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const;
  // Host-visible and coherent: mapped copies need no flush or invalidate.
  bool memory_type_is_host_coherent(int type) const;

  // Which queue a submission goes to: copies may take the transfer queue, where the device has one.
  enum class QueueKind { compute, transfer };

  // Records commands with `record`, submits them on the queue of `kind` (signalling the next value of its
  // timeline semaphore) and waits for that value. Threads may submit at once: a copy on the transfer queue
  // overlaps shaders on the compute queue. Throws Error for a failed submission and for any validation
  // message raised meanwhile.
  void submit_and_wait(const std::function<void(VkCommandBuffer)>& record,
                       QueueKind kind = QueueKind::compute);
  // A queue family that only copies (a GPU's DMA engines); X2V_VULKAN_TRANSFER_QUEUE=0 leaves it unused.
  bool has_transfer_queue() const { return transfer_.family != kNoFamily; }
  // The families buffers are shared between (both queues use every buffer).
  std::vector<uint32_t> queue_families() const;
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
  static constexpr uint32_t kNoFamily = UINT32_MAX;
  struct Queue {
    uint32_t family = kNoFamily;
    VkQueue queue = VK_NULL_HANDLE;
    VkCommandPool pool = VK_NULL_HANDLE;
    VkSemaphore timeline = VK_NULL_HANDLE;
    uint64_t submitted = 0;  // the timeline value of the last submission
    std::mutex mutex;        // the pool and the queue
  };
  Queue compute_, transfer_;
  VkPhysicalDeviceMemoryProperties memory_properties_{};
  DeviceLimits limits_;
  std::string description_;
  bool validation_ = false;
  bool storage16_ = false;
  bool integer_dot_ = false;
  CooperativeMatrixSupport cooperative_matrix_;

 public:
  // Validation messages (errors and warnings) not yet reported; written by the messenger callback.
  std::mutex messages_mutex;
  std::vector<std::string> messages;
};

// Throws Error naming `what` and the VkResult unless `result` is VK_SUCCESS.
void check(VkResult result, const char* what);

}  // namespace x2v::vulkan
