#pragma once
// Tensor: a typed, strided view of shared storage. Storage may live on any device; code above the
// platform layer never dereferences it unless `is_host_accessible()`. Views (reshape, slice, permute)
// share storage and never copy; copies and conversions are ops of the platform layer.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace x2v {

class Device;  // platform/device.h; opaque here

constexpr int kMaxTensorDims = 8;

// A block of memory and the way to give it back. `release` runs when the last view goes away
// (an allocator free, an munmap, or nothing for borrowed memory).
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device* device = nullptr;  // nullptr: plain host memory owned by no device
  bool host_accessible = true;
  std::function<void(void*, size_t)> release;

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (release) release(data, bytes);
  }
};

using Shape = std::vector<int64_t>;

std::string shape_to_string(const Shape& shape);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::shared_ptr<Storage> storage, Shape shape, DType dtype, int64_t offset_elements = 0);
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, DType dtype, int64_t offset_elements);

  // Plain host memory, 64-byte aligned, zero-filled (not from any device allocator; used by io and tests).
  static Tensor host(const Shape& shape, DType dtype);
  // Host tensor holding a copy of `values` (f32) converted to `dtype`.
  static Tensor host_from(const std::vector<float>& values, const Shape& shape, DType dtype = DType::f32);
  // Wraps memory owned elsewhere (an mmap, a plugin buffer). `keep_alive` is held as long as any view is.
  static Tensor borrow(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> keep_alive,
                       Device* device = nullptr, bool host_accessible = true);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  // Size of dimension `index`; negative counts from the end.
  int64_t size(int index) const;
  int64_t stride(int index) const;
  int64_t numel() const { return shape_numel(shape_); }
  size_t element_size() const { return dtype_size(dtype_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(); }
  int64_t offset() const { return offset_; }
  bool is_contiguous() const;
  bool is_host_accessible() const { return storage_ && storage_->host_accessible; }
  Device* device() const { return storage_ ? storage_->device : nullptr; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }

  // Address of the first element.
  void* raw_data() const;
  // Typed pointer to the first element; throws if T does not match the dtype.
  template <class T>
  T* data() const {
    check_element_type(DTypeOf<T>::value);
    return static_cast<T*>(raw_data());
  }
  // Raw bits for 16-bit floats (bf16, f16) and 8-bit floats.
  uint16_t* data_u16() const;
  uint8_t* data_u8() const;

  // Views. `reshape` needs a contiguous tensor; one size may be -1.
  Tensor reshape(const Shape& shape) const;
  Tensor slice(int dim, int64_t start, int64_t end) const;  // [start, end) along dim
  Tensor select(int dim, int64_t index) const;              // removes dim
  Tensor permute(const std::vector<int>& order) const;
  Tensor transpose(int first, int second) const;
  Tensor unsqueeze(int dim) const;
  Tensor squeeze(int dim) const;
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset_elements) const;

  // "bf16[8960, 1536]"
  std::string describe() const;
  // Copies to a new contiguous host tensor of `dtype` (host-accessible tensors only).
  Tensor to_host(DType dtype) const;
  // Reads all elements as float, in logical (row-major) order (host-accessible tensors only).
  std::vector<float> to_floats() const;

 private:
  void check_element_type(DType expected) const;
  int normalize_dim(int dim, int rank) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Shape strides_;  // in elements
  DType dtype_ = DType::f32;
  int64_t offset_ = 0;  // in elements
};

// Calls `visit(element_offset)` for every element of `shape` with `strides`, in row-major order.
void for_each_offset(const Shape& shape, const Shape& strides, const std::function<void(int64_t)>& visit);

}  // namespace x2v
