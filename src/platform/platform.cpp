#include "platform/platform.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include "platform/cpu/cpu_device.h"
#include "platform/host_fallback.h"
#include "platform/plugin_loader.h"
#ifdef X2V_WITH_VULKAN
#include "platform/vulkan/vulkan_device.h"
#endif

namespace x2v {

void DeviceRegistry::add(std::unique_ptr<Device> device) {
  if (find(device->name()) != nullptr)
    throw Error("platform", concat("platform '", device->name(), "' is registered twice"));
  devices_.push_back(std::move(device));
}

Device* DeviceRegistry::find(const std::string& name) const {
  for (const auto& device : devices_)
    if (device->name() == name) return device.get();
  return nullptr;
}

std::vector<Device*> DeviceRegistry::all() const {
  std::vector<Device*> result;
  for (const auto& device : devices_) result.push_back(device.get());
  return result;
}

std::vector<std::string> DeviceRegistry::names() const {
  std::vector<std::string> result;
  for (const auto& device : devices_) result.push_back(device->name());
  return result;
}

namespace {

std::string describe_platforms(const DeviceRegistry& registry) {
  std::string text;
  for (Device* device : registry.all())
    text += (text.empty() ? "" : ", ") + device->name() + (device->is_available() ? "" : " (unavailable)");
  return text;
}

}  // namespace

Device& DeviceRegistry::get(const std::string& requested) const {
  // Device names are lower case; PLATFORM=CPU means cpu, as DTYPE=bf16 means BF16.
  std::string name = requested;
  if (find(name) == nullptr)
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  Device* device = find(name);
  // Platforms LightX2V runs on, for which x2v has no backend in this build.
  static const std::vector<std::string> kLightx2vPlatforms = {"cuda", "mlu",   "npu",  "ascend", "dcu",
                                                              "musa", "metax", "rocm", "xpu",    "mps"};
  if (device == nullptr &&
      std::find(kLightx2vPlatforms.begin(), kLightx2vPlatforms.end(), name) != kLightx2vPlatforms.end())
    throw Error("platform",
                concat("PLATFORM '", requested, "' is one of LightX2V's platforms, but this build of x2v ",
                       "has no ", name, " backend (registered: ", describe_platforms(*this),
                       "); unset PLATFORM to run on the cpu, or load a plugin with X2V_PLUGIN_PATH"));
  if (device == nullptr)
    throw Error("platform", concat("unknown PLATFORM '", requested,
                                   "'; registered platforms: ", describe_platforms(*this)));
  if (!device->is_available())
    throw Error("platform", concat("PLATFORM '", name, "' is registered but not available on this machine (",
                                   device->hardware().empty() ? "no device found" : device->hardware(),
                                   "); registered platforms: ", describe_platforms(*this)));
  return *device;
}

Device& DeviceRegistry::select() const {
  const char* requested = std::getenv("PLATFORM");
  if (requested != nullptr && *requested != '\0') return get(requested);
  // Highest priority first, so a device below the best available one is never probed (probing a GPU
  // driver costs time).
  std::vector<Device*> ordered = all();
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const Device* a, const Device* b) { return a->priority() > b->priority(); });
  for (Device* device : ordered)
    if (device->is_available()) return *device;
  throw InternalError("platform", "no available platform, not even cpu");
}

DeviceRegistry& devices() {
  static DeviceRegistry registry;
  return registry;
}

void initialize_platforms() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A failed plugin load leaves call_once unfinished; a retry must not add cpu twice.
    if (devices().find("cpu") == nullptr) devices().add(create_cpu_device());
#ifdef X2V_WITH_VULKAN
    if (devices().find("vulkan") == nullptr) {
      std::unique_ptr<Device> vulkan = create_vulkan_device();
      add_host_fallbacks(*vulkan, *devices().find("cpu"));
      devices().add(std::move(vulkan));
    }
#endif
    load_plugins_from_environment(devices());
  });
}

Device& host_device() {
  initialize_platforms();
  return *devices().find("cpu");
}

Device& device_of(const Tensor& tensor) {
  return tensor.device() ? *tensor.device() : host_device();
}

Device& selected_device() {
  initialize_platforms();
  Device& device = devices().select();
  static std::once_flag once;
  std::call_once(once, [&] { device.init_env(); });
  return device;
}

Tensor empty(const Shape& shape, DType dtype, Device& device) {
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  Allocator& allocator = device.allocator();
  auto storage = std::make_shared<Storage>();
  storage->data = allocator.allocate(bytes);
  storage->bytes = bytes;
  storage->device = &device;
  storage->host_accessible = device.host_accessible();
  storage->release = [&allocator](void* pointer, size_t size) { allocator.deallocate(pointer, size); };
  return Tensor(std::move(storage), shape, dtype);
}

Tensor empty_like(const Tensor& like) {
  return empty(like.shape(), like.dtype(), device_of(like));
}
Tensor empty_like(const Tensor& like, DType dtype) {
  return empty(like.shape(), dtype, device_of(like));
}

}  // namespace x2v
