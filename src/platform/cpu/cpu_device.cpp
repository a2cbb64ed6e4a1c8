#include "platform/cpu/cpu_device.h"

#include <omp.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "core/log.h"
#include "platform/cpu/cpu_streams.h"
#include "platform/cpu/mm_quant.h"

namespace x2v {
namespace {

// Blocks from 1 MiB up are mapped pages of their own, so a freed one goes back to the system at once
// (glibc keeps freed heap chunks below its dynamic mmap threshold, up to 32 MiB, as resident memory).
constexpr size_t kMappedBlockBytes = size_t{1} << 20;

size_t page_rounded(size_t bytes) {
  const size_t page = 4096;
  return (bytes + page - 1) / page * page;
}

void* allocate_host_block(size_t bytes) {
  if (bytes < kMappedBlockBytes) return std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  void* pointer = mmap(nullptr, page_rounded(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return pointer == MAP_FAILED ? nullptr : pointer;
}

void free_host_block(void* pointer, size_t bytes) {
  if (bytes < kMappedBlockBytes)
    std::free(pointer);
  else
    munmap(pointer, page_rounded(bytes));
}

class CpuDevice : public Device {
 public:
  CpuDevice()
      : Device("cpu"), allocator_("cpu", allocate_host_block, free_host_block) {
    register_reference_kernels(kernels());
    register_cpu_attention(kernels());
    register_cpu_mm(kernels());
    register_cpu_int8_mm(kernels());
    register_cpu_fp8_mm(kernels());
    register_cpu_norm(kernels());
    register_cpu_rope(kernels());
    register_cpu_conv(kernels());
    register_cpu_elementwise(kernels());
    kernels().attention.set_default("cpu_flash_attn");
    kernels().mm.set_default("onednn_mm");
    kernels().rms_norm.set_default("cpu_rms_norm");
    kernels().layer_norm.set_default("cpu_layer_norm");
    kernels().rope.set_default("cpu_wan_rope");
    kernels().conv.set_default("onednn_conv");
  }

  std::string name() const override { return "cpu"; }
  bool is_available() const override { return true; }
  std::string device_string() const override { return "cpu"; }
  int priority() const override { return 0; }
  void init_env() override { log_debug("cpu", "OpenMP threads: ", omp_get_max_threads()); }
  Allocator& allocator() override { return allocator_; }
  bool host_accessible() const override { return true; }
  Stream& compute_stream() override { return compute_stream_; }
  std::unique_ptr<Stream> create_stream() override { return std::make_unique<WorkerStream>(); }
  std::unique_ptr<Event> create_event() override { return std::make_unique<CpuEvent>(); }
  void copy_async(const void* source, void* target, size_t bytes, CopyKind, Stream& stream) override {
    stream.enqueue([=] { std::memcpy(target, source, bytes); });
  }
  std::string communicator_name() const override { return "mpi"; }

 private:
  CachingAllocator allocator_;
  InlineStream compute_stream_;
};

}  // namespace

std::unique_ptr<Device> create_cpu_device() {
  return std::make_unique<CpuDevice>();
}

}  // namespace x2v
