// cpu rotary embedding: each token's cos/sin row applied to every head's interleaved pairs.
#include <vector>

#include "platform/cpu/cpu_device.h"
#include "platform/cpu/cpu_features.h"
#include "platform/cpu/row_access.h"

namespace x2v {
namespace {

// One token: every head's row read, rotated by the token's cos/sin and written.
struct RopeToken {
  const char* source;  // head 0
  int64_t source_head_stride;
  DType source_dtype;
  char* target;
  int64_t target_head_stride;
  DType target_dtype;
  int64_t heads, head_dim;
  const float *cosines, *sines;
};

[[gnu::always_inline]] inline void rotate_token_body(const RopeToken& token, float* row) {
  const int64_t d = token.head_dim;
  const int64_t source_size = static_cast<int64_t>(dtype_size(token.source_dtype)),
                target_size = static_cast<int64_t>(dtype_size(token.target_dtype));
  for (int64_t head = 0; head < token.heads; ++head) {
    cpu::load_row(token.source + head * token.source_head_stride * source_size, token.source_dtype, d, row);
#pragma omp simd
    for (int64_t j = 0; j < d / 2; ++j) {
      const float even = row[2 * j], odd = row[2 * j + 1];
      row[2 * j] = even * token.cosines[j] - odd * token.sines[j];
      row[2 * j + 1] = even * token.sines[j] + odd * token.cosines[j];
    }
    cpu::store_row(row, d, token.target + head * token.target_head_stride * target_size, token.target_dtype);
  }
}
X2V_CPU_MULTIVERSION(rotate_token, rotate_token_body)

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
        const RopeToken token{x_base + t * x.stride(0) * x_size,
                              x.stride(1),
                              x.dtype(),
                              out_base + t * out.stride(0) * out_size,
                              out.stride(1),
                              out.dtype(),
                              heads,
                              d,
                              cos_table + t * (d / 2),
                              sin_table + t * (d / 2)};
        rotate_token(token, row.data());
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
