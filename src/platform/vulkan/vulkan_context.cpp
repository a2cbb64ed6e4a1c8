#include "platform/vulkan/vulkan_context.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "platform/allocator.h"
#include "platform/vulkan/vulkan_shaders.h"

namespace x2v::vulkan {
namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                     VkDebugUtilsMessageTypeFlagsEXT,
                                                     const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                     void* user) {
  if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
  try {  // nothing may throw into the loader
    auto* context = static_cast<Context*>(user);
    std::lock_guard<std::mutex> lock(context->messages_mutex);
    context->messages.push_back(data != nullptr && data->pMessage != nullptr ? data->pMessage : "(no text)");
  } catch (...) {
  }
  return VK_FALSE;
}

bool env_flag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
}

bool layer_available(const char* name) {
  uint32_t count = 0;
  vkEnumerateInstanceLayerProperties(&count, nullptr);
  std::vector<VkLayerProperties> layers(count);
  vkEnumerateInstanceLayerProperties(&count, layers.data());
  for (const VkLayerProperties& layer : layers)
    if (std::strcmp(layer.layerName, name) == 0) return true;
  return false;
}

}  // namespace

void check(VkResult result, const char* what) {
  if (result == VK_SUCCESS) return;
  if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY)
    throw Error("vulkan",
                concat(what, " failed: out of ", result == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host",
                       " memory; use smaller sizes or free memory"));
  throw Error("vulkan", concat(what, " failed (VkResult ", static_cast<int>(result), ")"));
}

Context::Context() {
  try {
    create_instance();
    pick_physical_device();
    create_device();
  } catch (...) {
    destroy();  // a constructor that throws runs no destructor
    throw;
  }
}

Context::~Context() {
  destroy();
}

void Context::destroy() {
  if (device_ != VK_NULL_HANDLE) {
    vkDeviceWaitIdle(device_);
    for (Queue* queue : {&compute_, &transfer_}) {
      if (queue->timeline != VK_NULL_HANDLE) vkDestroySemaphore(device_, queue->timeline, nullptr);
      if (queue->pool != VK_NULL_HANDLE) vkDestroyCommandPool(device_, queue->pool, nullptr);
    }
    vkDestroyDevice(device_, nullptr);
  }
  if (messenger_ != VK_NULL_HANDLE) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy != nullptr) destroy(instance_, messenger_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
  device_ = VK_NULL_HANDLE;
  messenger_ = VK_NULL_HANDLE;
  instance_ = VK_NULL_HANDLE;
}

void Context::create_instance() {
  VkApplicationInfo application{};
  application.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  application.pApplicationName = "x2v";
  application.apiVersion = VK_API_VERSION_1_2;
  std::vector<const char*> layers, extensions;
  // X2V_VULKAN_VALIDATION=1: the Khronos validation layer, every error or warning an x2v error (the tests
  // run this way: lavapipe runs over-limit dispatches happily, only the layer catches them).
  validation_ = env_flag("X2V_VULKAN_VALIDATION");
  if (validation_) {
    if (!layer_available(kValidationLayer))
      throw Error("vulkan",
                  "X2V_VULKAN_VALIDATION is set but VK_LAYER_KHRONOS_validation is not installed "
                  "(apt install vulkan-validationlayers)");
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }
  VkInstanceCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  info.pApplicationInfo = &application;
  info.enabledLayerCount = static_cast<uint32_t>(layers.size());
  info.ppEnabledLayerNames = layers.data();
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  const VkResult result = vkCreateInstance(&info, nullptr, &instance_);
  if (result == VK_ERROR_INCOMPATIBLE_DRIVER)
    throw Error("vulkan",
                "no Vulkan driver found (on a machine without a GPU: apt install mesa-vulkan-drivers "
                "for lavapipe)");
  check(result, "vkCreateInstance");
  if (validation_) {
    VkDebugUtilsMessengerCreateInfoEXT messenger{};
    messenger.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    messenger.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    messenger.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    messenger.pfnUserCallback = on_validation_message;
    messenger.pUserData = this;
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
    if (create == nullptr) throw Error("vulkan", "the validation layer has no debug messenger");
    check(create(instance_, &messenger, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
  }
}

void Context::pick_physical_device() {
  uint32_t count = 0;
  check(vkEnumeratePhysicalDevices(instance_, &count, nullptr), "vkEnumeratePhysicalDevices");
  if (count == 0)
    throw Error("vulkan",
                "the Vulkan loader found no device (on a machine without a GPU: apt install "
                "mesa-vulkan-drivers for lavapipe)");
  std::vector<VkPhysicalDevice> physical_devices(count);
  check(vkEnumeratePhysicalDevices(instance_, &count, physical_devices.data()), "vkEnumeratePhysicalDevices");
  size_t index = 0;
  if (const char* chosen = std::getenv("X2V_VULKAN_DEVICE"); chosen != nullptr && chosen[0] != '\0') {
    char* end = nullptr;
    const unsigned long value = std::strtoul(chosen, &end, 10);
    if (end == chosen || *end != '\0' || value >= count)
      throw Error("vulkan",
                  concat("X2V_VULKAN_DEVICE '", chosen, "' is not a device index; this machine has ", count,
                         " Vulkan device", count == 1 ? "" : "s", " (0..", count - 1, ")"));
    index = value;
  } else {
    // A discrete GPU first, then an integrated one, then anything (lavapipe).
    int best = -1;
    for (size_t i = 0; i < physical_devices.size(); ++i) {
      VkPhysicalDeviceProperties properties;
      vkGetPhysicalDeviceProperties(physical_devices[i], &properties);
      const int score = properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 3
                        : properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 2
                                                                                          : 1;
      if (score > best) best = score, index = i;
    }
  }
  physical_device_ = physical_devices[index];

  VkPhysicalDeviceProperties properties;
  vkGetPhysicalDeviceProperties(physical_device_, &properties);
  VkPhysicalDeviceMaintenance3Properties maintenance3{};
  maintenance3.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES;
  VkPhysicalDeviceDriverProperties driver{};  // core in Vulkan 1.2: chained only on such devices
  driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
  driver.pNext = &maintenance3;
  const bool has_driver_properties = properties.apiVersion >= VK_API_VERSION_1_2;
  VkPhysicalDeviceSubgroupProperties subgroup{};
  subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
  subgroup.pNext = has_driver_properties ? static_cast<void*>(&driver) : static_cast<void*>(&maintenance3);
  VkPhysicalDeviceProperties2 properties2{};
  properties2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
  properties2.pNext = &subgroup;
  vkGetPhysicalDeviceProperties2(physical_device_, &properties2);
  vkGetPhysicalDeviceMemoryProperties(physical_device_, &memory_properties_);

  limits_.max_storage_buffer_range = properties.limits.maxStorageBufferRange;
  // A smaller range on request, so small tests exercise the splitting of tensors past it.
  if (const char* cap = std::getenv("X2V_VULKAN_STORAGE_RANGE"); cap != nullptr && cap[0] != '\0') {
    char* end = nullptr;
    const unsigned long long bytes = std::strtoull(cap, &end, 10);
    if (end == cap || *end != '\0' || bytes < 4096)
      throw Error("vulkan",
                  concat("X2V_VULKAN_STORAGE_RANGE '", cap,
                         "' is not a byte count of at least 4096; unset it to use the device's range"));
    limits_.max_storage_buffer_range = std::min<uint64_t>(limits_.max_storage_buffer_range, bytes);
  }
  limits_.min_storage_offset_alignment = properties.limits.minStorageBufferOffsetAlignment;
  limits_.max_workgroup_count = properties.limits.maxComputeWorkGroupCount[0];
  limits_.max_allocation_size = maintenance3.maxMemoryAllocationSize;
  limits_.max_buffer_size = limits_.max_allocation_size;  // maxBufferSize needs maintenance4 (Vulkan 1.3)
  if (properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) limits_.work_budget = uint64_t{1} << 24;
  if (has_driver_properties && driver.driverID == VK_DRIVER_ID_MESA_LLVMPIPE)
    limits_.loop_iteration_budget = 60000;  // 65535, with margin
  for (uint32_t heap = 0; heap < memory_properties_.memoryHeapCount; ++heap)
    if (memory_properties_.memoryHeaps[heap].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      limits_.heap_bytes = std::max<uint64_t>(limits_.heap_bytes, memory_properties_.memoryHeaps[heap].size);

  description_ = concat(
      properties.deviceName, "; driver ",
      has_driver_properties ? concat(driver.driverName, " ", driver.driverInfo) : "(unknown)", "; Vulkan ",
      VK_API_VERSION_MAJOR(properties.apiVersion), ".", VK_API_VERSION_MINOR(properties.apiVersion), ".",
      VK_API_VERSION_PATCH(properties.apiVersion), "; ", format_bytes(limits_.heap_bytes),
      " heap; storage buffer range ", format_bytes(limits_.max_storage_buffer_range), "; subgroup ",
      subgroup.subgroupSize, "; device ", index, " of ", count, " (X2V_VULKAN_DEVICE picks)");
}

void Context::create_device() {
  uint32_t family_count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical_device_, &family_count, nullptr);
  std::vector<VkQueueFamilyProperties> families(family_count);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_device_, &family_count, families.data());
  // A compute family, and a transfer-only family (a GPU's copy engines) where the device has one.
  int compute_family = -1, transfer_family = -1;
  for (uint32_t family = 0; family < family_count; ++family) {
    const VkQueueFlags flags = families[family].queueFlags;
    if (compute_family < 0 && (flags & VK_QUEUE_COMPUTE_BIT)) compute_family = static_cast<int>(family);
    if (transfer_family < 0 && (flags & VK_QUEUE_TRANSFER_BIT) &&
        !(flags & (VK_QUEUE_COMPUTE_BIT | VK_QUEUE_GRAPHICS_BIT)))
      transfer_family = static_cast<int>(family);
  }
  if (compute_family < 0) throw Error("vulkan", "the Vulkan device has no compute queue");
  if (std::getenv("X2V_VULKAN_TRANSFER_QUEUE") != nullptr &&
      std::strcmp(std::getenv("X2V_VULKAN_TRANSFER_QUEUE"), "0") == 0)
    transfer_family = -1;
  compute_.family = static_cast<uint32_t>(compute_family);
  transfer_.family = static_cast<uint32_t>(transfer_family);
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queues[2] = {};
  for (int i = 0; i < 2; ++i) {
    queues[i].sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    queues[i].queueFamilyIndex = i == 0 ? compute_.family : transfer_.family;
    queues[i].queueCount = 1;
    queues[i].pQueuePriorities = &priority;
  }
  // Timeline semaphores (core in Vulkan 1.2): every submission signals the next value of its queue's.
  VkPhysicalDeviceTimelineSemaphoreFeatures timeline{};
  timeline.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES;
  VkPhysicalDeviceFeatures2 timeline_query{};
  timeline_query.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  timeline_query.pNext = &timeline;
  vkGetPhysicalDeviceFeatures2(physical_device_, &timeline_query);
  if (timeline.timelineSemaphore != VK_TRUE)
    throw Error("vulkan", "the Vulkan device has no timeline semaphores (Vulkan 1.2); update its driver");
  // Integer dot products (VK_KHR_shader_integer_dot_product): only asked for where the device has them.
  const bool dot_extension = device_has_extension("VK_KHR_shader_integer_dot_product");
  const bool may_ask_dot = dot_extension;
  VkPhysicalDeviceShaderIntegerDotProductFeatures dot{};
  dot.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES;
  VkPhysicalDevice16BitStorageFeatures storage16{};
  storage16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
  storage16.pNext = may_ask_dot ? &dot : nullptr;
  VkPhysicalDeviceFeatures2 features{};
  features.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  features.pNext = &storage16;
  vkGetPhysicalDeviceFeatures2(physical_device_, &features);
  storage16_ = storage16.storageBuffer16BitAccess == VK_TRUE;
  const char* dot_switch = std::getenv("X2V_VULKAN_INTEGER_DOT");
  integer_dot_ = may_ask_dot && dot.shaderIntegerDotProduct == VK_TRUE &&
                 !(dot_switch != nullptr && std::strcmp(dot_switch, "0") == 0);
  VkPhysicalDeviceShaderIntegerDotProductFeatures enabled_dot{};
  enabled_dot.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES;
  enabled_dot.shaderIntegerDotProduct = integer_dot_ ? VK_TRUE : VK_FALSE;
  VkPhysicalDevice16BitStorageFeatures enabled16{};
  enabled16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
  enabled16.storageBuffer16BitAccess = storage16.storageBuffer16BitAccess;
  VkPhysicalDeviceTimelineSemaphoreFeatures enabled_timeline{};
  enabled_timeline.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES;
  enabled_timeline.timelineSemaphore = VK_TRUE;
  enabled_timeline.pNext = integer_dot_ ? &enabled_dot : nullptr;
  enabled16.pNext = &enabled_timeline;
  cooperative_matrix_ =
      probe_cooperative_matrix(instance_, physical_device_, device_has_extension("VK_KHR_cooperative_matrix"),
                               shader_embedded("mm_coopmat"));
  if (cooperative_matrix_.usable) enabled_timeline.pNext = cooperative_matrix_.chain(enabled_timeline.pNext);
  description_ += concat("; 16-bit storage ", storage16_ ? "yes" : "no (every kernel runs on the host)",
                         "; integer dot product ",
                         integer_dot_                             ? "yes"
                         : dot.shaderIntegerDotProduct == VK_TRUE ? "off (X2V_VULKAN_INTEGER_DOT=0)"
                                                                  : "no",
                         "; cooperative matrix ", cooperative_matrix_.description);
  std::vector<const char*> extensions;
  // Named even on a 1.3 device: the instance asks for Vulkan 1.2, so the extension is what allows OpSDot.
  if (integer_dot_) extensions.push_back("VK_KHR_shader_integer_dot_product");
  if (cooperative_matrix_.usable) extensions.push_back("VK_KHR_cooperative_matrix");
  VkDeviceCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
  info.pNext = &enabled16;
  info.queueCreateInfoCount = has_transfer_queue() ? 2 : 1;
  info.pQueueCreateInfos = queues;
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();
  check(vkCreateDevice(physical_device_, &info, nullptr, &device_), "vkCreateDevice");
  for (Queue* queue : {&compute_, &transfer_}) {
    if (queue == &transfer_ && !has_transfer_queue()) break;
    vkGetDeviceQueue(device_, queue->family, 0, &queue->queue);
    VkCommandPoolCreateInfo pool{};
    pool.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
    pool.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pool.queueFamilyIndex = queue->family;
    check(vkCreateCommandPool(device_, &pool, nullptr, &queue->pool), "vkCreateCommandPool");
    VkSemaphoreTypeCreateInfo type{};
    type.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO;
    type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
    VkSemaphoreCreateInfo semaphore{};
    semaphore.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO;
    semaphore.pNext = &type;
    check(vkCreateSemaphore(device_, &semaphore, nullptr, &queue->timeline), "vkCreateSemaphore");
  }
  description_ += has_transfer_queue() ? "; transfer queue (copies overlap compute)" : "; no transfer queue";
  check_validation("creating the Vulkan device");
}

bool Context::device_has_extension(const char* name) const {
  uint32_t count = 0;
  vkEnumerateDeviceExtensionProperties(physical_device_, nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> extensions(count);
  vkEnumerateDeviceExtensionProperties(physical_device_, nullptr, &count, extensions.data());
  for (const VkExtensionProperties& extension : extensions)
    if (std::strcmp(extension.extensionName, name) == 0) return true;
  return false;
}

int Context::memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                         VkMemoryPropertyFlags preferred) const {
  int fallback = -1;
  for (uint32_t type = 0; type < memory_properties_.memoryTypeCount; ++type) {
    if (!(type_bits & (1u << type))) continue;
    const VkMemoryPropertyFlags flags = memory_properties_.memoryTypes[type].propertyFlags;
    if ((flags & required) != required) continue;
    if ((flags & preferred) == preferred) return static_cast<int>(type);
    if (fallback < 0) fallback = static_cast<int>(type);
  }
  return fallback;
}

bool Context::memory_type_is_host_coherent(int type) const {
  const VkMemoryPropertyFlags wanted =
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  return (memory_properties_.memoryTypes[type].propertyFlags & wanted) == wanted;
}

void Context::submit_and_wait(const std::function<void(VkCommandBuffer)>& record, QueueKind kind) {
  Queue& queue = kind == QueueKind::transfer && has_transfer_queue() ? transfer_ : compute_;
  const bool copies_only = &queue == &transfer_;
  VkCommandBuffer commands = VK_NULL_HANDLE;
  uint64_t signal = 0;
  {
    // The pool and the queue are used by one thread at a time; the wait below is not under the lock, so
    // a copy on the transfer queue and a shader on the compute queue run at the same time.
    std::lock_guard<std::mutex> lock(queue.mutex);
    VkCommandBufferAllocateInfo allocate{};
    allocate.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
    allocate.commandPool = queue.pool;
    allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    allocate.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(device_, &allocate, &commands), "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo begin{};
    begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VkResult result = vkBeginCommandBuffer(commands, &begin);
    if (result == VK_SUCCESS) {
      try {
        record(commands);
      } catch (...) {
        vkEndCommandBuffer(commands);
        vkFreeCommandBuffers(device_, queue.pool, 1, &commands);
        throw;
      }
      // Everything written here is visible to the host and to the next submission.
      VkMemoryBarrier barrier{};
      barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
      barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | (copies_only ? 0 : VK_ACCESS_SHADER_WRITE_BIT);
      barrier.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
                              VK_ACCESS_HOST_READ_BIT |
                              (copies_only ? 0 : VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
      const VkPipelineStageFlags stages =
          VK_PIPELINE_STAGE_TRANSFER_BIT | (copies_only ? 0 : VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
      vkCmdPipelineBarrier(commands, stages, stages | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0, nullptr,
                           0, nullptr);
      result = vkEndCommandBuffer(commands);
    }
    if (result == VK_SUCCESS) {
      signal = ++queue.submitted;
      VkTimelineSemaphoreSubmitInfo timeline{};
      timeline.sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO;
      timeline.signalSemaphoreValueCount = 1;
      timeline.pSignalSemaphoreValues = &signal;
      VkSubmitInfo submit{};
      submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
      submit.pNext = &timeline;
      submit.commandBufferCount = 1;
      submit.pCommandBuffers = &commands;
      submit.signalSemaphoreCount = 1;
      submit.pSignalSemaphores = &queue.timeline;
      result = vkQueueSubmit(queue.queue, 1, &submit, VK_NULL_HANDLE);
      if (result != VK_SUCCESS) --queue.submitted;
    }
    if (result != VK_SUCCESS) {
      vkFreeCommandBuffers(device_, queue.pool, 1, &commands);
      check(result, "running Vulkan commands");
    }
  }
  VkSemaphoreWaitInfo wait{};
  wait.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO;
  wait.semaphoreCount = 1;
  wait.pSemaphores = &queue.timeline;
  wait.pValues = &signal;
  const VkResult waited = vkWaitSemaphores(device_, &wait, UINT64_MAX);
  {
    std::lock_guard<std::mutex> lock(queue.mutex);
    vkFreeCommandBuffers(device_, queue.pool, 1, &commands);
  }
  check(waited, "waiting for Vulkan commands");
  check_validation("a Vulkan submission");
}

std::vector<uint32_t> Context::queue_families() const {
  if (!has_transfer_queue()) return {compute_.family};
  return {compute_.family, transfer_.family};
}

void Context::check_validation(const char* what) {
  if (!validation_) return;
  std::lock_guard<std::mutex> lock(messages_mutex);
  if (messages.empty()) return;
  const std::string first = messages.front();
  const size_t count = messages.size();
  messages.clear();
  throw Error("vulkan", concat("the validation layer reported ", count, " problem", count == 1 ? "" : "s",
                               " during ", what, "; the first: ", first));
}

}  // namespace x2v::vulkan
