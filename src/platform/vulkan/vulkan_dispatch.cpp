#include "platform/vulkan/vulkan_dispatch.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "platform/allocator.h"
#include "platform/vulkan/vulkan_shaders.h"

namespace x2v::vulkan {
namespace {

constexpr uint32_t kGroupSize = 64;  // every shader's local_size_x

const ShaderCode& find_shader(const std::string& name) {
  for (const ShaderCode& code : shader_table())
    if (name == code.name) return code;
  throw InternalError("vulkan", concat("no embedded shader '", name, "'"));
}

}  // namespace

bool shader_embedded(const std::string& name) {
  for (const ShaderCode& code : shader_table())
    if (name == code.name) return true;
  return false;
}

Dispatcher::~Dispatcher() {
  if (descriptor_pool_ != VK_NULL_HANDLE)
    vkDestroyDescriptorPool(context_.device(), descriptor_pool_, nullptr);
  for (auto& [name, pipeline] : pipelines_) {
    vkDestroyPipeline(context_.device(), pipeline.pipeline, nullptr);
    vkDestroyPipelineLayout(context_.device(), pipeline.layout, nullptr);
    vkDestroyDescriptorSetLayout(context_.device(), pipeline.set_layout, nullptr);
    vkDestroyShaderModule(context_.device(), pipeline.module, nullptr);
  }
}

const Dispatcher::Pipeline& Dispatcher::pipeline(const std::string& shader, uint32_t bindings,
                                                 uint32_t push_bytes) {
  // One layout per shader: a second call with other counts is a bug in the kernel calling it.
  auto found = pipelines_.find(shader);
  if (found != pipelines_.end()) {
    if (found->second.bindings != bindings || found->second.push_bytes != push_bytes)
      throw InternalError("vulkan", concat("shader '", shader, "' dispatched with ", bindings,
                                           " bindings and ", push_bytes, " push bytes, first with ",
                                           found->second.bindings, " and ", found->second.push_bytes));
    return found->second;
  }
  const ShaderCode& code = find_shader(shader);
  Pipeline pipeline;
  pipeline.bindings = bindings;
  pipeline.push_bytes = push_bytes;
  VkShaderModuleCreateInfo module{};
  module.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
  module.codeSize = code.word_count * 4;
  module.pCode = code.words;
  check(vkCreateShaderModule(context_.device(), &module, nullptr, &pipeline.module), "vkCreateShaderModule");
  std::vector<VkDescriptorSetLayoutBinding> layout_bindings(bindings);
  for (uint32_t i = 0; i < bindings; ++i) {
    layout_bindings[i] = VkDescriptorSetLayoutBinding{};
    layout_bindings[i].binding = i;
    layout_bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    layout_bindings[i].descriptorCount = 1;
    layout_bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo set_layout{};
  set_layout.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
  set_layout.bindingCount = bindings;
  set_layout.pBindings = layout_bindings.data();
  check(vkCreateDescriptorSetLayout(context_.device(), &set_layout, nullptr, &pipeline.set_layout),
        "vkCreateDescriptorSetLayout");
  VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
  VkPipelineLayoutCreateInfo layout{};
  layout.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
  layout.setLayoutCount = 1;
  layout.pSetLayouts = &pipeline.set_layout;
  layout.pushConstantRangeCount = 1;
  layout.pPushConstantRanges = &push;
  check(vkCreatePipelineLayout(context_.device(), &layout, nullptr, &pipeline.layout),
        "vkCreatePipelineLayout");
  VkComputePipelineCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
  info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  info.stage.module = pipeline.module;
  info.stage.pName = "main";
  info.layout = pipeline.layout;
  check(vkCreateComputePipelines(context_.device(), VK_NULL_HANDLE, 1, &info, nullptr, &pipeline.pipeline),
        "vkCreateComputePipelines");
  context_.check_validation(concat("creating the pipeline of shader '", shader, "'").c_str());
  log_debug("vulkan", "pipeline of shader '", shader, "' created");
  return pipelines_.emplace(shader, pipeline).first->second;
}

uint64_t Dispatcher::binding_limit() const {
  const DeviceLimits& limits = context_.limits();
  return limits.max_storage_buffer_range - limits.min_storage_offset_alignment - 4;
}

bool Dispatcher::run(const std::string& shader, const std::vector<Binding>& bindings, const void* parameters,
                     uint32_t parameter_bytes, uint64_t invocations) {
  if (bindings.empty() || bindings.size() > kMaxBindings || parameter_bytes % 4 != 0 ||
      kMaxBindings * 4 + parameter_bytes > 128)  // 128: the push-constant size every device has
    throw InternalError("vulkan",
                        concat("shader '", shader, "' dispatched with ", bindings.size(), " bindings"));
  const DeviceLimits& limits = context_.limits();
  // Each binding: a range from the aligned offset at or below its first element to its end.
  uint32_t push[kMaxBindings + 32] = {};
  std::vector<VkDescriptorBufferInfo> infos(bindings.size());
  for (size_t i = 0; i < bindings.size(); ++i) {
    const BufferLocation location = memory_.locate(bindings[i].address, bindings[i].bytes);
    const size_t aligned =
        location.offset / limits.min_storage_offset_alignment * limits.min_storage_offset_alignment;
    const size_t range = location.offset - aligned + bindings[i].bytes;
    if (range > limits.max_storage_buffer_range) {
      log_once(LogLevel::info, "vulkan",
               concat("shader '", shader, "' would bind ", format_bytes(range),
                      ", more than the device's storage ", "buffer range of ",
                      format_bytes(limits.max_storage_buffer_range), "; such calls run on the host"));
      return false;
    }
    // Whole 32-bit words: a shader reading bytes through words (fp8 weights) touches the last word's rest,
    // which the caching allocator's rounding keeps inside the buffer.
    const size_t word_range = std::min<size_t>((range + 3) / 4 * 4, location.allocation->bytes - aligned);
    infos[i] = VkDescriptorBufferInfo{location.allocation->buffer, aligned, std::max<size_t>(word_range, 4)};
    push[i] = static_cast<uint32_t>((location.offset - aligned) / bindings[i].element_size);
  }
  const uint32_t push_bytes = kMaxBindings * 4 + parameter_bytes;
  if (parameter_bytes > 0) std::memcpy(push + kMaxBindings, parameters, parameter_bytes);
  const uint64_t wanted = (invocations + kGroupSize - 1) / kGroupSize;
  const uint32_t groups = static_cast<uint32_t>(std::clamp<uint64_t>(wanted, 1, limits.max_workgroup_count));

  std::lock_guard<std::mutex> lock(mutex_);
  const Pipeline& chosen = pipeline(shader, static_cast<uint32_t>(bindings.size()), push_bytes);
  // One descriptor set at a time (dispatches wait for their work under mutex_): the pool is made once and
  // reset after each dispatch rather than created per dispatch.
  if (descriptor_pool_ == VK_NULL_HANDLE) {
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kMaxBindings};
    VkDescriptorPoolCreateInfo pool_info{};
    pool_info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
    pool_info.maxSets = 1;
    pool_info.poolSizeCount = 1;
    pool_info.pPoolSizes = &size;
    check(vkCreateDescriptorPool(context_.device(), &pool_info, nullptr, &descriptor_pool_),
          "vkCreateDescriptorPool");
  }
  struct PoolReset {  // on every way out
    VkDevice device;
    VkDescriptorPool pool;
    ~PoolReset() { vkResetDescriptorPool(device, pool, 0); }
  } reset{context_.device(), descriptor_pool_};
  VkDescriptorSetAllocateInfo allocate{};
  allocate.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
  allocate.descriptorPool = descriptor_pool_;
  allocate.descriptorSetCount = 1;
  allocate.pSetLayouts = &chosen.set_layout;
  VkDescriptorSet set;
  check(vkAllocateDescriptorSets(context_.device(), &allocate, &set), "vkAllocateDescriptorSets");
  std::vector<VkWriteDescriptorSet> writes(bindings.size());
  for (size_t i = 0; i < bindings.size(); ++i) {
    writes[i] = VkWriteDescriptorSet{};
    writes[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
    writes[i].dstSet = set;
    writes[i].dstBinding = static_cast<uint32_t>(i);
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
  }
  vkUpdateDescriptorSets(context_.device(), static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
  context_.submit_and_wait([&](VkCommandBuffer commands) {
    vkCmdBindPipeline(commands, VK_PIPELINE_BIND_POINT_COMPUTE, chosen.pipeline);
    vkCmdBindDescriptorSets(commands, VK_PIPELINE_BIND_POINT_COMPUTE, chosen.layout, 0, 1, &set, 0, nullptr);
    vkCmdPushConstants(commands, chosen.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
    vkCmdDispatch(commands, groups, 1, 1);
  });
  ++dispatches_;
  return true;
}

}  // namespace x2v::vulkan
