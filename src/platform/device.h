#pragma once
// Device: one accelerator (or the host) as the core sees it. Each platform registers one Device class;
// it owns the platform's allocator, streams and kernel registries. Code above the platform layer
// holds Device& and never names a backend.
#include <memory>
#include <string>

#include "core/tensor.h"
#include "platform/allocator.h"
#include "platform/kernel_registries.h"
#include "platform/stream.h"

namespace x2v {

// Memory figures in bytes; 0 where unknown.
struct DeviceMemory {
  size_t total = 0;
  size_t free = 0;
  size_t largest_allocation = 0;    // the largest single allocation that can succeed
  size_t largest_buffer_range = 0;  // the largest range one kernel argument may span; 0: no limit
};

// What the device computes natively (for `x2v platforms` and kernel choices).
struct DeviceCapabilities {
  bool f16 = false, bf16 = false, int8 = false, fp8 = false;
  bool async_copy = false;  // copies on one stream overlap kernels on another
};

enum class CopyKind { host_to_device, device_to_host, device_to_device };

class Device {
 public:
  explicit Device(const std::string& platform_name) : kernels_(platform_name) {}
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  virtual std::string name() const = 0;  // platform name: "cpu", "cuda", a plugin's name
  virtual bool is_available() const = 0;
  virtual std::string device_string() const = 0;  // "cpu", "cuda:0"
  // The hardware and the code path it takes, for `x2v platforms` and benchmarks ("" when not known).
  virtual std::string hardware() const { return ""; }
  virtual DeviceCapabilities capabilities() const { return {}; }
  virtual DeviceMemory memory() const { return {}; }
  // Larger wins when PLATFORM is unset and several platforms are available.
  virtual int priority() const = 0;
  // Per-process set-up (threads, environment); called once when the device is selected.
  virtual void init_env() {}
  virtual Allocator& allocator() = 0;
  // True when host code may read this device's memory directly (cpu, unified memory).
  virtual bool host_accessible() const = 0;
  // The stream ops run on.
  virtual Stream& compute_stream() = 0;
  virtual std::unique_ptr<Stream> create_stream() = 0;
  virtual std::unique_ptr<Event> create_event() = 0;
  // Copies bytes; ordered on `stream` (the copy is complete once the stream reaches it).
  virtual void copy_async(const void* source, void* target, size_t bytes, CopyKind kind, Stream& stream) = 0;

  void copy(const void* source, void* target, size_t bytes, CopyKind kind) {
    copy_async(source, target, bytes, kind, compute_stream());
    compute_stream().synchronize();
  }

  KernelRegistries& kernels() { return kernels_; }

 private:
  KernelRegistries kernels_;
};

// A tensor of `shape` in `device` memory from its caching allocator (contents undefined).
Tensor empty(const Shape& shape, DType dtype, Device& device);
// Same shape as `like`, on the same device; `dtype` defaults to like's.
Tensor empty_like(const Tensor& like);
Tensor empty_like(const Tensor& like, DType dtype);

}  // namespace x2v
