#include "platform/vulkan/vulkan_device.h"

#include <mutex>
#include <optional>

#include "core/log.h"
#include "platform/host_streams.h"
#include "platform/vulkan/vulkan_backend.h"

namespace x2v {
namespace {

class VulkanDevice : public Device, public vulkan::Backend {
 public:
  VulkanDevice()
      : Device("vulkan"),
        // Tensors are sub-allocated inside buffers (vulkan::Memory's addresses can be offset): small ones
        // share a buffer, so a model needs a few hundred buffers rather than one per tensor (drivers cap
        // the allocation count, often at 4096), and a tensor never straddles two buffers.
        allocator_(
            "vulkan", [this](size_t bytes) { return state().memory.allocate(bytes); },
            [this](void* pointer, size_t) { state().memory.free(pointer); }, BlockReuse::split_and_merge) {
    vulkan::register_vulkan_kernels(*this, kernels());
  }
  ~VulkanDevice() override {
    allocator_.release_cache();  // before the buffers' memory goes with the state
  }

  std::string name() const override { return "vulkan"; }
  bool is_available() const override { return probe(); }
  std::string device_string() const override { return "vulkan:0"; }
  std::string hardware() const override {
    if (!probe()) return concat("unavailable: ", unavailable_reason_);
    return state_->context.description() +
           (state_->context.storage16() ? "" : "; no 16-bit storage: every kernel runs on the host") +
           (state_->context.validation() ? "; validation layer on" : "");
  }
  // Float shaders compute in f32 (bf16 and f16 are widened); W8A8 sums in int32; copies on a created stream
  // run beside the compute stream's shaders.
  DeviceCapabilities capabilities() const override {
    DeviceCapabilities capabilities;
    capabilities.int8 = true;
    capabilities.async_copy = true;
    return capabilities;
  }
  DeviceMemory memory() const override {
    DeviceMemory memory;
    if (!probe()) return memory;
    const vulkan::DeviceLimits& limits = state_->context.limits();
    memory.total = limits.heap_bytes;
    const size_t used = state_->memory.allocated_bytes();
    memory.free = memory.total > used ? memory.total - used : 0;
    memory.largest_allocation = std::min<size_t>(memory.free, limits.max_allocation_size);
    memory.largest_buffer_range = limits.max_storage_buffer_range;
    return memory;
  }
  // Below cpu until a shader set is faster than the cpu's kernels: PLATFORM=vulkan selects it.
  int priority() const override { return -5; }
  Allocator& allocator() override { return allocator_; }
  bool host_accessible() const override { return false; }
  // Every vulkan operation waits for its submission, so the compute stream runs work inline. Other streams
  // are worker threads: a weight upload enqueued there runs on the transfer queue (where the device has
  // one) while the caller's shaders run on the compute queue; events mark points in them.
  Stream& compute_stream() override { return stream_; }
  std::unique_ptr<Stream> create_stream() override { return std::make_unique<WorkerStream>(); }
  std::unique_ptr<Event> create_event() override { return std::make_unique<HostEvent>(); }
  void copy_async(const void* source, void* target, size_t bytes, CopyKind kind, Stream& stream) override {
    vulkan::Memory& memory = state().memory;
    stream.enqueue([&memory, source, target, bytes, kind] {
      switch (kind) {
        case CopyKind::host_to_device:
          return memory.copy_to_device(source, target, bytes);
        case CopyKind::device_to_host:
          return memory.copy_to_host(source, target, bytes);
        case CopyKind::device_to_device:
          return memory.copy_on_device(source, target, bytes);
      }
    });
  }

  vulkan::Context& context() override { return state().context; }
  vulkan::Memory& memory() override { return state().memory; }
  vulkan::Dispatcher& dispatcher() override { return state().dispatcher; }
  Device& device() override { return *this; }

 private:
  struct State {
    vulkan::Context context;
    vulkan::Memory memory{context};
    vulkan::Dispatcher dispatcher{context, memory};
  };

  // Creates the Vulkan state once; false (with the reason kept) when there is no usable device.
  bool probe() const {
    std::call_once(probed_, [this] {
      try {
        state_.emplace();
      } catch (const Error& error) {
        unavailable_reason_ = error.what();
      }
    });
    return state_.has_value();
  }
  State& state() {
    if (!probe()) throw Error("vulkan", concat("no usable Vulkan device: ", unavailable_reason_));
    return *state_;
  }

  mutable std::once_flag probed_;
  mutable std::optional<State> state_;
  mutable std::string unavailable_reason_;
  CachingAllocator allocator_;
  InlineStream stream_;
};

}  // namespace

std::unique_ptr<Device> create_vulkan_device() {
  return std::make_unique<VulkanDevice>();
}

}  // namespace x2v
