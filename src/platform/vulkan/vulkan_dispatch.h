#pragma once
// Compute pipelines made from the embedded shaders, and one dispatch: buffers bound as explicit ranges (never
// the whole buffer, never past maxStorageBufferRange), the first element of each passed in the push
// constants, workgroups of 64 invocations capped at the device's group count (shaders loop over the rest).
#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "platform/vulkan/vulkan_memory.h"

namespace x2v::vulkan {

// A tensor's bytes in device memory, as a shader sees it.
struct Binding {
  const void* address;  // the first element
  size_t bytes;
  size_t element_size = 4;  // the unit of the first-element index the shader gets
};

// Push constants every shader starts with: the first element of each binding within its bound range.
constexpr uint32_t kMaxBindings = 6;

class Dispatcher {
 public:
  Dispatcher(Context& context, Memory& memory) : context_(context), memory_(memory) {}
  ~Dispatcher();

  // The most bytes one binding may span and still fit the device's storage buffer range wherever it starts
  // (the range is bound from the aligned offset below the first element, in whole words): kernels split
  // larger tensors into calls of at most this much each.
  uint64_t binding_limit() const;

  // Runs `shader` over `invocations` (grid-stride beyond the group limit) with `bindings` in order and
  // `parameters` (the push constants after the binding offsets, a multiple of 4 bytes). Waits for it.
  // Returns false, having run nothing, when a binding spans more than the device's storage buffer range (the
  // caller splits the call or runs its fallback).
  // Shaders run so far (a test's proof that a call ran on the device, and in how many pieces).
  uint64_t dispatches() const { return dispatches_.load(); }

  [[nodiscard]] bool run(const std::string& shader, const std::vector<Binding>& bindings,
                         const void* parameters, uint32_t parameter_bytes, uint64_t invocations);

 private:
  struct Pipeline {
    VkShaderModule module = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;
    uint32_t bindings = 0, push_bytes = 0;
  };
  const Pipeline& pipeline(const std::string& shader, uint32_t bindings, uint32_t push_bytes);

  Context& context_;
  Memory& memory_;
  std::mutex mutex_;
  std::map<std::string, Pipeline> pipelines_;
  std::atomic<uint64_t> dispatches_{0};
  VkDescriptorPool descriptor_pool_ = VK_NULL_HANDLE;  // one set at a time, reset after each dispatch
};

}  // namespace x2v::vulkan
