#pragma once
// Adapters between the plugin C ABI (include/x2v/platform_abi.h) and x2v's platform classes: a plugin
// device becomes an x2v::Device (plugin_device.cpp), a plugin kernel an x2v op-template kernel in a
// KernelRegistry (plugin_kernels.cpp).
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "platform/device.h"
#include "x2v/platform_abi.h"

namespace x2v {

// ABI dtype codes <-> x2v::DType. dtype_from_abi returns false for an unknown code.
int32_t dtype_to_abi(DType dtype);
bool dtype_from_abi(int32_t code, DType* dtype);
// A view of `tensor` for a plugin; an undefined tensor gives the "absent" view (data NULL, ndim 0).
x2v_tensor_view make_tensor_view(const Tensor& tensor);

// The category of an X2V_KERNEL_* code; false when the code is unknown.
bool category_from_abi(int32_t code, KernelCategory* category);

// Copies a plugin-written struct that starts with `struct_size`: the fields both sides know are taken,
// the rest stay zero. Returns false when the plugin's struct is smaller than `minimum_size`.
template <class AbiStruct>
bool copy_abi_struct(const AbiStruct* source, size_t minimum_size, AbiStruct* target) {
  *target = AbiStruct{};
  if (source == nullptr || source->struct_size < minimum_size) return false;
  const size_t known = source->struct_size < sizeof(AbiStruct) ? source->struct_size : sizeof(AbiStruct);
  std::memcpy(static_cast<void*>(target), static_cast<const void*>(source), known);
  target->struct_size = sizeof(AbiStruct);
  return true;
}

// A plugin device. Memory comes from a CachingAllocator over the plugin's alloc/free. With the plugin's
// stream callbacks each x2v stream and event is a plugin one; without them work runs in order on the
// calling thread and waiting drains the device.
class PluginDevice : public Device {
 public:
  // `desc` must be complete (checked by the loader); `plugin` names the library in messages.
  PluginDevice(const x2v_device_desc& desc, std::string plugin);
  ~PluginDevice() override;

  std::string name() const override { return name_; }
  bool is_available() const override;
  std::string device_string() const override { return device_string_; }
  std::string hardware() const override { return concat("plugin ", plugin_); }
  DeviceCapabilities capabilities() const override;
  DeviceMemory memory() const override;
  int priority() const override { return desc_.priority; }
  Allocator& allocator() override { return *allocator_; }
  bool host_accessible() const override { return desc_.host_accessible != 0; }
  Stream& compute_stream() override { return *compute_stream_; }
  std::unique_ptr<Stream> create_stream() override;
  std::unique_ptr<Event> create_event() override;
  void copy_async(const void* source, void* target, size_t bytes, CopyKind kind, Stream& stream) override;

  // True when the plugin implements streams (and then kernels receive the compute stream's handle).
  bool has_streams() const { return desc_.create_stream != nullptr; }
  bool has_events() const { return desc_.create_event != nullptr; }
  const x2v_device_desc& desc() const { return desc_; }
  // Throws Error with the plugin's message unless `status` is X2V_OK.
  void check(int status, const std::string& what) const;
  // Waits for the plugin's queued work; throws Error with the plugin's message when it fails.
  void synchronize_device();
  // From now on x2v owns the plugin's device context: destroying this device calls the plugin's destroy.
  // (A device from a registration that failed as a whole is dropped without it.)
  void adopt() { adopted_ = true; }

 private:
  x2v_device_desc desc_;
  std::string plugin_;
  std::string name_;
  std::string device_string_;
  std::optional<CachingAllocator> allocator_;
  std::unique_ptr<Stream> compute_stream_;
  bool adopted_ = false;
};

// The plugin's handle of an x2v stream of `device` (NULL: the default stream, or no streams); Error for a
// stream of another plugin device.
void* plugin_stream_handle(Stream& stream, const PluginDevice& device);

// One kernel a plugin registered: its descriptor and the names messages use.
struct PluginKernelSpec {
  x2v_kernel_desc desc;  // complete (checked by the loader)
  KernelCategory category = KernelCategory::attention;
  std::string platform;
  std::string name;
  std::string description;
  std::string plugin;        // the library's path
  Device* device = nullptr;  // the platform's device, for the compute stream
};

// The traits a kernel descriptor declares; false (with `problem`) when they make no sense.
bool traits_from_abi(const x2v_kernel_desc& desc, KernelCategory category, KernelTraits* traits,
                     std::string* problem);
// Adds the kernel to the registry of its category in `kernels`.
void add_plugin_kernel(KernelRegistries& kernels, std::shared_ptr<const PluginKernelSpec> spec);

}  // namespace x2v
