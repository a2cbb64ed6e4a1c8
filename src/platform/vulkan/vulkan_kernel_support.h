#pragma once
// What the vulkan kernels share (vulkan_kernels.cpp, vulkan_matmul.cpp): which tensors the shaders read in
// place, their bindings and dtype codes, the loop and work budgets of CPU-backed devices, the host fallback,
// and the tiled matmuls' blocks and range splitting.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "platform/host_fallback.h"
#include "platform/platform.h"
#include "platform/vulkan/vulkan_backend.h"

namespace x2v::vulkan {

inline bool is_float(DType dtype) {
  return dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16;
}
// A tensor the shaders read in place: f32, bf16 or f16 in this device's memory.
inline bool on_device_float(const Tensor& tensor, Device& device) {
  return tensor.defined() && is_float(tensor.dtype()) && tensor.device() == &device;
}
inline bool native_float(const Tensor& tensor, Device& device) {
  return on_device_float(tensor, device) && tensor.is_contiguous();
}
inline bool native_f32(const Tensor& tensor, Device& device) {
  return native_float(tensor, device) && tensor.dtype() == DType::f32;
}

// The shaders' dtype codes (shaders/dtypes.glsl), 2 bits per binding in binding order.
inline uint32_t pack_dtypes(std::initializer_list<const Tensor*> tensors) {
  uint32_t packed = 0, index = 0;
  for (const Tensor* tensor : tensors) {
    const uint32_t code = tensor->dtype() == DType::bf16 ? 1u : tensor->dtype() == DType::f16 ? 2u : 0u;
    packed |= code << (2 * index++);
  }
  return packed;
}

inline Binding binding_of(const Tensor& tensor) {
  // A strided view binds the whole span it reaches.
  int64_t last = 0;
  for (int dim = 0; dim < tensor.ndim(); ++dim) last += (tensor.size(dim) - 1) * tensor.stride(dim);
  const size_t elements = tensor.numel() == 0 ? 1 : static_cast<size_t>(last + 1);
  return Binding{tensor.raw_data(), elements * tensor.element_size(), tensor.element_size()};
}

inline uint32_t u32(int64_t value) {
  return static_cast<uint32_t>(value);
}

// The `count` elements of memory from element `first` after a tensor's first element (for a strided view,
// the caller computes the span); the shader indexes it in units of `unit` bytes (the element size unless
// given).
inline Binding slice_of(const Tensor& tensor, uint64_t first, uint64_t count, size_t unit = 0) {
  const size_t size = tensor.element_size();
  return Binding{static_cast<const char*>(tensor.raw_data()) + first * size,
                 static_cast<size_t>(std::max<uint64_t>(count, 1)) * size, unit != 0 ? unit : size};
}

// The most entries along dim 0 whose spans in every one of `tensors` fit `limit` bytes: a call over more is
// split into slices of dim 0. 0 when a single entry is too large (or a tensor has no dims).
inline uint64_t leading_step(std::initializer_list<const Tensor*> tensors, uint64_t limit) {
  uint64_t step = UINT64_MAX;
  for (const Tensor* tensor : tensors) {
    if (tensor->ndim() == 0 || tensor->size(0) == 0) return 0;
    const uint64_t one = binding_of(tensor->slice(0, 0, 1)).bytes;
    const uint64_t apart =
        static_cast<uint64_t>(std::max<int64_t>(tensor->stride(0), 1)) * tensor->element_size();
    if (one > limit) return 0;
    step = std::min(step, (limit - one) / apart + 1);
  }
  return step;
}

// One call of a matmul split to fit the storage buffer range: rows [first_row, first_row + rows) of x and y,
// weight rows (y columns) [first_column, first_column + columns).
struct MmChunk {
  uint64_t first_row, rows, first_column, columns;
};

// The calls that cover y [rows, columns] with each binding (x rows, weight rows, the y span from a chunk's
// first element to its last) within `limit` bytes, row-major; one call where everything fits, none when a
// single row is too large.
inline std::vector<MmChunk> mm_chunks(uint64_t rows, uint64_t columns, uint64_t x_row_bytes,
                                      uint64_t w_row_bytes, uint64_t y_element_bytes, uint64_t limit) {
  const uint64_t column_step = std::min(columns, limit / w_row_bytes);
  if (column_step == 0 || x_row_bytes > limit) return {};
  const uint64_t y_rows_fitting = (limit - column_step * y_element_bytes) / (columns * y_element_bytes) + 1;
  const uint64_t row_step = std::max<uint64_t>(1, std::min({rows, limit / x_row_bytes, y_rows_fitting}));
  std::vector<MmChunk> chunks;
  for (uint64_t row = 0; row < rows; row += row_step)
    for (uint64_t column = 0; column < columns; column += column_step)
      chunks.push_back(
          {row, std::min(row_step, rows - row), column, std::min(column_step, columns - column)});
  return chunks;
}

// The y span of a chunk: from (first_row, first_column) to (last row, last column).
inline Binding y_slice_of(const Tensor& y, const MmChunk& chunk, uint64_t columns) {
  return slice_of(y, chunk.first_row * columns + chunk.first_column,
                  (chunk.rows - 1) * columns + chunk.columns);
}

// True when a shader whose invocations each run `per_item` loop iterations for each of `items` work items
// (spread grid-stride over at most the device's groups of 64) stays within the device's loop budget and the
// call within its work budget (both limits of CPU-backed devices, see DeviceLimits).
inline bool within_loop_budget(Backend& backend, uint64_t items, uint64_t per_item) {
  if (!backend.context().storage16()) return false;  // every shader declares 16-bit views
  const DeviceLimits& limits = backend.context().limits();
  const uint64_t lanes = uint64_t{limits.max_workgroup_count} * 64;
  const uint64_t items_per_invocation = (items + lanes - 1) / lanes;
  return items_per_invocation * (per_item + 1) <= limits.loop_iteration_budget &&
         items * per_item <= limits.work_budget;
}

// The same for a tiled shader whose workgroups each take whole blocks (grid-stride over at most the device's
// groups), an invocation looping `per_block` times for each, the call asking `multiply_adds` of the device.
inline bool within_block_budget(Backend& backend, uint64_t blocks, uint64_t per_block,
                                uint64_t multiply_adds) {
  if (!backend.context().storage16()) return false;
  const DeviceLimits& limits = backend.context().limits();
  const uint64_t blocks_per_group = (blocks + limits.max_workgroup_count - 1) / limits.max_workgroup_count;
  return blocks_per_group * (per_block + 1) <= limits.loop_iteration_budget &&
         multiply_adds <= limits.work_budget;
}

// The tiled matmuls' blocks (shaders/tiled_mm.glsl): 32 x 32 outputs, k in slices of 16, and the loop
// iterations an invocation runs per block (loads, products, stores).
inline constexpr uint64_t kMmBlock = 32, kMmSlice = 16, kMmGroupSize = 64;
inline uint64_t mm_blocks(uint64_t rows, uint64_t columns) {
  return ((rows + kMmBlock - 1) / kMmBlock) * ((columns + kMmBlock - 1) / kMmBlock);
}
inline uint64_t mm_iterations_per_block(uint64_t in_features) {
  return (in_features + kMmSlice - 1) / kMmSlice * (2 * kMmBlock * kMmSlice / kMmGroupSize + 3 * kMmSlice) +
         64;
}

// The cpu's default kernel of a category on host copies, created on first use.
template <class Kernel>
class Fallback {
 public:
  Fallback(Backend& backend, std::string name) : backend_(backend), name_(std::move(name)) {}
  bool created() const { return kernel_ != nullptr; }
  Kernel& get() {
    if (!kernel_)
      kernel_ = make_host_fallback<Kernel>(backend_.device(), host_device(), name_,
                                           "calls its shaders cannot take (unusual layouts or dtypes, sizes "
                                           "past the device's limits or budgets)");
    return *kernel_;
  }
  void reset() { kernel_.reset(); }

 private:
  Backend& backend_;
  std::string name_;
  std::unique_ptr<Kernel> kernel_;
};

// The float, fp8 and int8 matmuls (vulkan_matmul.cpp).
void register_vulkan_matmuls(Backend& backend, KernelRegistries& kernels);

}  // namespace x2v::vulkan
