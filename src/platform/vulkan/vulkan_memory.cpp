#include "platform/vulkan/vulkan_memory.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "platform/allocator.h"

namespace x2v::vulkan {
namespace {

constexpr uintptr_t kAddressBase = uintptr_t{1} << 48;  // non-canonical on x86-64: host reads fault
constexpr size_t kAddressAlignment = 4096;
constexpr size_t kStagingBytes = size_t{32} << 20;

void destroy_buffer(Context& context, Allocation& allocation) {
  if (allocation.mapped != nullptr) vkUnmapMemory(context.device(), allocation.memory);
  if (allocation.buffer != VK_NULL_HANDLE) vkDestroyBuffer(context.device(), allocation.buffer, nullptr);
  if (allocation.memory != VK_NULL_HANDLE) vkFreeMemory(context.device(), allocation.memory, nullptr);
  allocation = Allocation{};
}

Allocation create_buffer(Context& context, size_t bytes, bool host_visible, bool map) {
  Allocation allocation;
  allocation.bytes = bytes;
  VkBufferCreateInfo buffer{};
  buffer.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  buffer.size = bytes;
  buffer.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  // Both queues (compute, transfer) use every buffer: concurrent sharing spares ownership transfers.
  const std::vector<uint32_t> families = context.queue_families();
  buffer.sharingMode = families.size() > 1 ? VK_SHARING_MODE_CONCURRENT : VK_SHARING_MODE_EXCLUSIVE;
  buffer.queueFamilyIndexCount = families.size() > 1 ? static_cast<uint32_t>(families.size()) : 0;
  buffer.pQueueFamilyIndices = families.size() > 1 ? families.data() : nullptr;
  check(vkCreateBuffer(context.device(), &buffer, nullptr, &allocation.buffer), "vkCreateBuffer");
  VkMemoryRequirements requirements;
  vkGetBufferMemoryRequirements(context.device(), allocation.buffer, &requirements);
  const VkMemoryPropertyFlags required =
      host_visible ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT : 0;
  const int type = context.memory_type(
      requirements.memoryTypeBits, required,
      host_visible ? VK_MEMORY_PROPERTY_HOST_CACHED_BIT : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  if (type < 0) {
    vkDestroyBuffer(context.device(), allocation.buffer, nullptr);
    throw Error("vulkan", "the device has no memory type for storage buffers");
  }
  VkMemoryAllocateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  info.allocationSize = requirements.size;
  info.memoryTypeIndex = static_cast<uint32_t>(type);
  const VkResult result = vkAllocateMemory(context.device(), &info, nullptr, &allocation.memory);
  if (result != VK_SUCCESS) {
    vkDestroyBuffer(context.device(), allocation.buffer, nullptr);
    allocation.buffer = VK_NULL_HANDLE;
    if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY) return allocation;
    check(result, "vkAllocateMemory");
  }
  VkResult bound = vkBindBufferMemory(context.device(), allocation.buffer, allocation.memory, 0);
  if (bound == VK_SUCCESS && map && context.memory_type_is_host_coherent(type))
    bound = vkMapMemory(context.device(), allocation.memory, 0, VK_WHOLE_SIZE, 0, &allocation.mapped);
  if (bound != VK_SUCCESS) {
    destroy_buffer(context, allocation);
    check(bound, "binding or mapping device memory");
  }
  return allocation;
}

}  // namespace

Memory::Memory(Context& context) : context_(context), next_address_(kAddressBase) {
  const char* staging = std::getenv("X2V_VULKAN_STAGING");
  use_mapping_ = !(staging != nullptr && staging[0] != '\0' && std::strcmp(staging, "0") != 0);
}

Memory::~Memory() {
  for (auto& [address, allocation] : allocations_) destroy_buffer(context_, allocation);
  destroy_buffer(context_, staging_);
}

void* Memory::allocate(size_t bytes) {
  const DeviceLimits& limits = context_.limits();
  if (bytes > limits.max_allocation_size)
    throw Error("vulkan",
                concat("a tensor of ", format_bytes(bytes), " is larger than the largest buffer the device ",
                       "allows (", format_bytes(limits.max_allocation_size),
                       "); use a smaller size (fewer frames, a lower resolution, or tiling)"));
  Allocation allocation = create_buffer(context_, bytes, false, use_mapping_);
  if (allocation.buffer == VK_NULL_HANDLE)
    return nullptr;  // out of device memory: the caller frees its cache
  std::lock_guard<std::mutex> lock(mutex_);
  const uintptr_t address = next_address_;
  next_address_ +=
      (bytes + kAddressAlignment - 1) / kAddressAlignment * kAddressAlignment + kAddressAlignment;
  allocations_.emplace(address, allocation);
  allocated_bytes_ += bytes;
  return reinterpret_cast<void*>(address);
}

void Memory::free(void* address) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = allocations_.find(reinterpret_cast<uintptr_t>(address));
  if (found == allocations_.end()) return;
  allocated_bytes_ -= found->second.bytes;
  destroy_buffer(context_, found->second);
  allocations_.erase(found);
}

size_t Memory::allocated_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return allocated_bytes_;
}

BufferLocation Memory::locate(const void* address, size_t bytes) const {
  const uintptr_t value = reinterpret_cast<uintptr_t>(address);
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = allocations_.upper_bound(value);
  if (found != allocations_.begin()) {
    --found;
    const size_t offset = value - found->first;
    if (value >= found->first && offset + bytes <= found->second.bytes) return {&found->second, offset};
  }
  throw InternalError("vulkan",
                      concat("address ", address, " (", bytes, " bytes) is not vulkan device memory"));
}

void Memory::ensure_staging(size_t bytes) {
  if (staging_.buffer != VK_NULL_HANDLE && staging_.bytes >= bytes) return;
  destroy_buffer(context_, staging_);
  staging_ = create_buffer(context_, bytes, true, true);
  if (staging_.buffer == VK_NULL_HANDLE || staging_.mapped == nullptr)
    throw Error("vulkan", concat("cannot create a ", format_bytes(bytes), " staging buffer for host copies"));
}

void Memory::copy_to_device(const void* host, void* device, size_t bytes) {
  if (bytes == 0) return;
  const BufferLocation target = locate(device, bytes);
  if (target.allocation->mapped != nullptr) {
    std::memcpy(static_cast<char*>(target.allocation->mapped) + target.offset, host, bytes);
    return;
  }
  std::lock_guard<std::mutex> lock(staging_mutex_);  // one staging buffer
  ensure_staging(std::min(bytes, kStagingBytes));
  for (size_t done = 0; done < bytes; done += staging_.bytes) {
    const size_t chunk = std::min(staging_.bytes, bytes - done);
    std::memcpy(staging_.mapped, static_cast<const char*>(host) + done, chunk);
    context_.submit_and_wait(
        [&](VkCommandBuffer commands) {
          const VkBufferCopy region{0, target.offset + done, chunk};
          vkCmdCopyBuffer(commands, staging_.buffer, target.allocation->buffer, 1, &region);
        },
        Context::QueueKind::transfer);
  }
}

void Memory::copy_to_host(const void* device, void* host, size_t bytes) {
  if (bytes == 0) return;
  const BufferLocation source = locate(device, bytes);
  if (source.allocation->mapped != nullptr) {
    std::memcpy(host, static_cast<const char*>(source.allocation->mapped) + source.offset, bytes);
    return;
  }
  std::lock_guard<std::mutex> lock(staging_mutex_);
  ensure_staging(std::min(bytes, kStagingBytes));
  for (size_t done = 0; done < bytes; done += staging_.bytes) {
    const size_t chunk = std::min(staging_.bytes, bytes - done);
    context_.submit_and_wait(
        [&](VkCommandBuffer commands) {
          const VkBufferCopy region{source.offset + done, 0, chunk};
          vkCmdCopyBuffer(commands, source.allocation->buffer, staging_.buffer, 1, &region);
        },
        Context::QueueKind::transfer);
    std::memcpy(static_cast<char*>(host) + done, staging_.mapped, chunk);
  }
}

void Memory::copy_on_device(const void* source, void* target, size_t bytes) {
  if (bytes == 0) return;
  const BufferLocation from = locate(source, bytes), to = locate(target, bytes);
  context_.submit_and_wait([&](VkCommandBuffer commands) {
    const VkBufferCopy region{from.offset, to.offset, bytes};
    vkCmdCopyBuffer(commands, from.allocation->buffer, to.allocation->buffer, 1, &region);
  });
}

}  // namespace x2v::vulkan
