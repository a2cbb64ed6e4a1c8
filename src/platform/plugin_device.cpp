#include "platform/plugin_adapters.h"

namespace x2v {

// ---- Dtypes, views, categories ---------------------------------------------------------------------

int32_t dtype_to_abi(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return X2V_DTYPE_F32;
    case DType::bf16:
      return X2V_DTYPE_BF16;
    case DType::f16:
      return X2V_DTYPE_F16;
    case DType::f8_e4m3:
      return X2V_DTYPE_F8_E4M3;
    case DType::f8_e5m2:
      return X2V_DTYPE_F8_E5M2;
    case DType::i8:
      return X2V_DTYPE_I8;
    case DType::i32:
      return X2V_DTYPE_I32;
    case DType::u8:
      return X2V_DTYPE_U8;
  }
  throw InternalError("plugin", concat("dtype ", static_cast<int>(dtype), " has no ABI code"));
}

bool dtype_from_abi(int32_t code, DType* dtype) {
  switch (code) {
    case X2V_DTYPE_F32:
      *dtype = DType::f32;
      return true;
    case X2V_DTYPE_BF16:
      *dtype = DType::bf16;
      return true;
    case X2V_DTYPE_F16:
      *dtype = DType::f16;
      return true;
    case X2V_DTYPE_F8_E4M3:
      *dtype = DType::f8_e4m3;
      return true;
    case X2V_DTYPE_F8_E5M2:
      *dtype = DType::f8_e5m2;
      return true;
    case X2V_DTYPE_I8:
      *dtype = DType::i8;
      return true;
    case X2V_DTYPE_I32:
      *dtype = DType::i32;
      return true;
    case X2V_DTYPE_U8:
      *dtype = DType::u8;
      return true;
    default:
      return false;
  }
}

x2v_tensor_view make_tensor_view(const Tensor& tensor) {
  x2v_tensor_view view{};
  if (!tensor.defined()) return view;
  static_assert(kMaxTensorDims <= X2V_MAX_DIMS, "the ABI view must hold every tensor rank");
  view.data = tensor.raw_data();
  view.dtype = dtype_to_abi(tensor.dtype());
  view.ndim = tensor.ndim();
  for (int dim = 0; dim < tensor.ndim(); ++dim) {
    view.shape[dim] = tensor.shape()[dim];
    view.strides[dim] = tensor.strides()[dim];
  }
  return view;
}

bool category_from_abi(int32_t code, KernelCategory* category) {
  for (KernelCategory known : kKernelCategories)
    if (static_cast<int32_t>(known) == code) {
      *category = known;
      return true;
    }
  return false;
}

// ---- Streams and events -----------------------------------------------------------------------------

namespace {

// An x2v stream of a plugin device. Work is issued at once on the calling thread: the plugin queues it on
// its stream (`handle`, NULL for the default one) and runs it asynchronously if it can.
class PluginStream : public Stream {
 public:
  PluginStream(PluginDevice& device, void* handle) : device_(device), handle_(handle) {}
  ~PluginStream() override {
    if (handle_ != nullptr) device_.desc().destroy_stream(device_.desc().user, handle_);
  }
  void enqueue(std::function<void()> work) override { work(); }
  void synchronize() override {
    if (device_.has_streams())
      device_.check(device_.desc().stream_synchronize(device_.desc().user, handle_), "stream_synchronize");
    else
      device_.synchronize_device();
  }
  void wait(Event& event) override;
  void* handle() const { return handle_; }
  const PluginDevice& device() const { return device_; }

 private:
  PluginDevice& device_;
  void* handle_;
};

// With plugin events: one plugin event. Without: "everything issued so far", and waiting drains the device.
class PluginEvent : public Event {
 public:
  PluginEvent(PluginDevice& device, void* handle) : device_(device), handle_(handle) {}
  ~PluginEvent() override {
    if (handle_ != nullptr) device_.desc().destroy_event(device_.desc().user, handle_);
  }
  void record(Stream& stream) override {
    if (handle_ != nullptr) {
      auto* plugin_stream = dynamic_cast<PluginStream*>(&stream);
      if (plugin_stream == nullptr || &plugin_stream->device() != &device_)
        throw Error("plugin",
                    concat("an event of '", device_.name(), "' is recorded only on its own streams"));
      device_.check(device_.desc().record_event(device_.desc().user, handle_, plugin_stream->handle()),
                    "record_event");
    }
    recorded_ = true;
  }
  void synchronize() override {
    if (!recorded_) return;
    if (handle_ != nullptr)
      device_.check(device_.desc().event_synchronize(device_.desc().user, handle_), "event_synchronize");
    else
      device_.synchronize_device();
  }
  bool query() override {
    synchronize();
    return true;
  }
  const PluginDevice& device() const { return device_; }
  // Makes later work on `stream` (one of this device's) wait for this event.
  void make_wait(void* stream) {
    if (!recorded_) return;
    if (handle_ != nullptr)
      device_.check(device_.desc().stream_wait_event(device_.desc().user, stream, handle_),
                    "stream_wait_event");
    else
      device_.synchronize_device();
  }

 private:
  PluginDevice& device_;
  void* handle_;
  bool recorded_ = false;
};

void PluginStream::wait(Event& event) {
  auto* plugin_event = dynamic_cast<PluginEvent*>(&event);
  if (plugin_event != nullptr && &plugin_event->device() == &device_)
    plugin_event->make_wait(handle_);
  else
    event.synchronize();  // an event of another device: the host waits
}

int32_t copy_kind_to_abi(CopyKind kind) {
  switch (kind) {
    case CopyKind::host_to_device:
      return X2V_COPY_HOST_TO_DEVICE;
    case CopyKind::device_to_host:
      return X2V_COPY_DEVICE_TO_HOST;
    case CopyKind::device_to_device:
      return X2V_COPY_DEVICE_TO_DEVICE;
  }
  throw InternalError("plugin", "unknown copy kind");
}

}  // namespace

void* plugin_stream_handle(Stream& stream, const PluginDevice& device) {
  auto* plugin_stream = dynamic_cast<PluginStream*>(&stream);
  if (plugin_stream == nullptr) return nullptr;
  if (&plugin_stream->device() != &device)
    throw Error("plugin", concat("a stream of '", plugin_stream->device().name(), "' was given to '",
                                 device.name(), "'; use the device's own streams"));
  return plugin_stream->handle();
}

// ---- Device ----------------------------------------------------------------------------------------

PluginDevice::PluginDevice(const x2v_device_desc& desc, std::string plugin)
    : Device(desc.name), desc_(desc), plugin_(std::move(plugin)), name_(desc.name) {
  device_string_ =
      desc.device_string != nullptr && desc.device_string[0] != '\0' ? desc.device_string : name_;
  // The strings now live here; the plugin's may have been on its stack.
  desc_.name = nullptr;
  desc_.device_string = nullptr;
  allocator_.emplace(
      name_, [this](size_t bytes) { return desc_.alloc(desc_.user, bytes); },
      [this](void* pointer, size_t bytes) { desc_.free(desc_.user, pointer, bytes); });
  compute_stream_ = std::make_unique<PluginStream>(*this, nullptr);
}

PluginDevice::~PluginDevice() {
  compute_stream_.reset();
  allocator_.reset();  // returns cached blocks through the plugin's free while it is still alive
  if (adopted_ && desc_.destroy != nullptr) desc_.destroy(desc_.user);
}

bool PluginDevice::is_available() const {
  return desc_.is_available == nullptr || desc_.is_available(desc_.user) != 0;
}

DeviceCapabilities PluginDevice::capabilities() const {
  DeviceCapabilities caps;
  caps.f16 = (desc_.capabilities & X2V_DEVICE_CAP_F16) != 0;
  caps.bf16 = (desc_.capabilities & X2V_DEVICE_CAP_BF16) != 0;
  caps.int8 = (desc_.capabilities & X2V_DEVICE_CAP_INT8) != 0;
  caps.fp8 = (desc_.capabilities & X2V_DEVICE_CAP_FP8) != 0;
  caps.async_copy = (desc_.capabilities & X2V_DEVICE_CAP_ASYNC_COPY) != 0;
  return caps;
}

DeviceMemory PluginDevice::memory() const {
  DeviceMemory memory;
  if (desc_.memory_info == nullptr) return memory;
  x2v_memory_info info{};
  info.struct_size = sizeof(info);
  check(desc_.memory_info(desc_.user, &info), "memory_info");
  memory.total = info.total_bytes;
  memory.free = info.free_bytes;
  memory.largest_allocation = info.largest_allocation;
  memory.largest_buffer_range = info.largest_buffer_range;
  return memory;
}

std::unique_ptr<Stream> PluginDevice::create_stream() {
  if (!has_streams()) return std::make_unique<PluginStream>(*this, nullptr);
  void* handle = desc_.create_stream(desc_.user);
  if (handle == nullptr) check(X2V_FAILED, "create_stream");
  return std::make_unique<PluginStream>(*this, handle);
}

std::unique_ptr<Event> PluginDevice::create_event() {
  if (!has_events()) return std::make_unique<PluginEvent>(*this, nullptr);
  void* handle = desc_.create_event(desc_.user);
  if (handle == nullptr) check(X2V_FAILED, "create_event");
  return std::make_unique<PluginEvent>(*this, handle);
}

void PluginDevice::copy_async(const void* source, void* target, size_t bytes, CopyKind kind, Stream& stream) {
  const int32_t code = copy_kind_to_abi(kind);
  const std::string what = concat("copying ", format_bytes(bytes));
  if (has_streams()) {
    check(desc_.copy_async(desc_.user, source, target, bytes, code, plugin_stream_handle(stream, *this)),
          what);
    return;
  }
  stream.enqueue([&] { check(desc_.copy(desc_.user, source, target, bytes, code), what); });
}

void PluginDevice::synchronize_device() {
  check(desc_.synchronize(desc_.user), "synchronize");
}

void PluginDevice::check(int status, const std::string& what) const {
  if (status == X2V_OK) return;
  const char* message = desc_.last_error != nullptr ? desc_.last_error(desc_.user) : nullptr;
  throw Error("plugin", concat("device '", name_, "' (", plugin_, "): ", what, " failed",
                               message != nullptr && message[0] != '\0' ? concat(": ", message)
                                                                        : std::string(" (no message)")));
}

}  // namespace x2v
