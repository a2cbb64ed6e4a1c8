#pragma once
// Device memory for the vulkan platform: one VkBuffer per allocation (x2v's caching allocator above carves
// tensors out of them and merges them back), named by addresses of our own that the host cannot dereference
// (above 2^48), so a stray host read of device memory faults instead of reading garbage. Host copies go
// through the mapping where the memory is host-visible (lavapipe, unified memory) and through a staging
// buffer elsewhere (X2V_VULKAN_STAGING=1 forces the staging path, so lavapipe tests it too).
#include <map>
#include <mutex>

#include "platform/vulkan/vulkan_context.h"

namespace x2v::vulkan {

struct Allocation {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  size_t bytes = 0;
  void* mapped = nullptr;  // host pointer when the memory is host-visible and mapping is used
};

// Where an address lies: its allocation and the byte offset in it.
struct BufferLocation {
  const Allocation* allocation = nullptr;
  size_t offset = 0;
};

class Memory {
 public:
  explicit Memory(Context& context);
  ~Memory();

  // nullptr when the device is out of memory; Error for a size larger than any buffer the device allows.
  void* allocate(size_t bytes);
  void free(void* address);
  // Error when `address` .. + bytes is not inside one allocation of ours.
  BufferLocation locate(const void* address, size_t bytes) const;
  size_t allocated_bytes() const;

  void copy_to_device(const void* host, void* device, size_t bytes);
  void copy_to_host(const void* device, void* host, size_t bytes);
  void copy_on_device(const void* source, void* target, size_t bytes);

 private:
  // Grows the staging buffer to at least `bytes` (under staging_mutex_).
  void ensure_staging(size_t bytes);

  Context& context_;
  bool use_mapping_ = true;
  mutable std::mutex mutex_;
  std::map<uintptr_t, Allocation> allocations_;  // by start address
  uintptr_t next_address_;
  size_t allocated_bytes_ = 0;
  std::mutex staging_mutex_;  // the staging buffer, apart from mutex_ so allocation goes on during a copy
  Allocation staging_;
};

}  // namespace x2v::vulkan
