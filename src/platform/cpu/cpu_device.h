#pragma once
#include <memory>

#include "platform/device.h"

namespace x2v {

// The host as a platform: memory from the caching allocator over aligned host memory, a compute
// stream that runs work inline on the calling thread, and worker-thread streams for copies.
std::unique_ptr<Device> create_cpu_device();

// Each file of the cpu backend registers its kernels through one of these (called by the cpu device).
void register_cpu_attention(KernelRegistries& kernels);
void register_cpu_mm(KernelRegistries& kernels);
void register_cpu_norm(KernelRegistries& kernels);
void register_cpu_rope(KernelRegistries& kernels);
void register_cpu_conv(KernelRegistries& kernels);
void register_cpu_elementwise(KernelRegistries& kernels);
// The portable reference kernels ("torch"), plain loops over host memory.
void register_reference_kernels(KernelRegistries& kernels);

}  // namespace x2v
