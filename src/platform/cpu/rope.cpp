// cpu rotary embedding: each token's cos/sin row applied to every head's interleaved pairs.
#include <vector>

#include "platform/cpu/cpu_device.h"
#include "platform/cpu/row_access.h"

namespace x2v {
namespace {

class CpuRope : public RopeKernel {
 public:
  void apply(const Tensor& x, const RopeTables& tables, Tensor& out) override {
    check_rope_arguments(x, tables, out);
    cpu::require_host_memory("cpu_rope", {&x, &tables.cos, &tables.sin, &out});
    const int64_t tokens = x.size(0), heads = x.size(1), d = x.size(2);
    const char* x_base = static_cast<const char*>(x.raw_data());
    char* out_base = static_cast<char*>(out.raw_data());
    const float* cos_table = tables.cos.data<float>();
    const float* sin_table = tables.sin.data<float>();
    const int64_t x_size = static_cast<int64_t>(x.element_size()),
                  out_size = static_cast<int64_t>(out.element_size());
#pragma omp parallel
    {
      std::vector<float> row(d);
#pragma omp for schedule(static)
      for (int64_t t = 0; t < tokens; ++t) {
        const float* cosines = cos_table + t * (d / 2);
        const float* sines = sin_table + t * (d / 2);
        for (int64_t head = 0; head < heads; ++head) {
          cpu::load_row(x_base + (t * x.stride(0) + head * x.stride(1)) * x_size, x.dtype(), d, row.data());
#pragma omp simd
          for (int64_t j = 0; j < d / 2; ++j) {
            const float even = row[2 * j], odd = row[2 * j + 1];
            row[2 * j] = even * cosines[j] - odd * sines[j];
            row[2 * j + 1] = even * sines[j] + odd * cosines[j];
          }
          cpu::store_row(row.data(), d, out_base + (t * out.stride(0) + head * out.stride(1)) * out_size,
                         out.dtype());
        }
      }
    }
  }
};

}  // namespace

void register_cpu_rope(KernelRegistries& kernels) {
  kernels.rope.add(
      "cpu_rope", [] { return std::make_unique<CpuRope>(); },
      "rotary embedding from cos/sin tables, interleaved pairs");
}

}  // namespace x2v
