#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

namespace x2v {

std::string shape_to_string(const Shape& shape) {
  std::ostringstream stream;
  stream << "[";
  for (size_t i = 0; i < shape.size(); ++i) stream << (i ? ", " : "") << shape[i];
  stream << "]";
  return stream.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t count = 1;
  for (int64_t size : shape) count *= size;
  return count;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

namespace {

void check_shape(const Shape& shape) {
  if (shape.size() > static_cast<size_t>(kMaxTensorDims))
    throw Error("tensor",
                concat("shape ", shape_to_string(shape), " has more than ", kMaxTensorDims, " dims"));
  for (int64_t size : shape)
    if (size < 0) throw Error("tensor", concat("shape ", shape_to_string(shape), " has a negative size"));
}

}  // namespace

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, DType dtype, int64_t offset_elements)
    : Tensor(std::move(storage), shape, contiguous_strides(shape), dtype, offset_elements) {}

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, DType dtype,
               int64_t offset_elements)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      dtype_(dtype),
      offset_(offset_elements) {
  check_shape(shape_);
  X2V_ASSERT(shape_.size() == strides_.size(), "tensor", "shape and strides differ in rank");
}

Tensor Tensor::host(const Shape& shape, DType dtype) {
  check_shape(shape);
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* data = rounded ? std::aligned_alloc(64, rounded) : nullptr;
  if (rounded && data == nullptr)
    throw Error("tensor",
                concat("out of host memory allocating ", bytes, " bytes for ", shape_to_string(shape)));
  if (data) std::memset(data, 0, rounded);
  auto storage = std::make_shared<Storage>();
  storage->data = data;
  storage->bytes = bytes;
  storage->release = [](void* pointer, size_t) { std::free(pointer); };
  return Tensor(std::move(storage), shape, dtype);
}

Tensor Tensor::host_from(const std::vector<float>& values, const Shape& shape, DType dtype) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw Error("tensor", concat(values.size(), " values do not fill shape ", shape_to_string(shape)));
  Tensor tensor = host(shape, dtype);
  convert_elements(values.data(), DType::f32, tensor.raw_data(), dtype, values.size());
  return tensor;
}

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> keep_alive,
                      Device* device, bool host_accessible) {
  auto storage = std::make_shared<Storage>();
  storage->data = data;
  storage->bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  storage->device = device;
  storage->host_accessible = host_accessible;
  storage->release = [keep_alive = std::move(keep_alive)](void*, size_t) mutable { keep_alive.reset(); };
  return Tensor(std::move(storage), shape, dtype);
}

int Tensor::normalize_dim(int dim, int rank) const {
  const int normalized = dim < 0 ? dim + rank : dim;
  if (normalized < 0 || normalized >= rank)
    throw Error("tensor", concat("dim ", dim, " is out of range for ", describe()));
  return normalized;
}

int64_t Tensor::size(int index) const {
  return shape_[normalize_dim(index, ndim())];
}
int64_t Tensor::stride(int index) const {
  return strides_[normalize_dim(index, ndim())];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  if (!storage_) throw InternalError("tensor", "access to an undefined tensor");
  return static_cast<char*>(storage_->data) + offset_ * static_cast<int64_t>(element_size());
}

void Tensor::check_element_type(DType expected) const {
  if (dtype_ != expected)
    throw InternalError("tensor", concat("typed access as ", dtype_name(expected), " to ", describe()));
}

uint16_t* Tensor::data_u16() const {
  if (element_size() != 2) throw InternalError("tensor", concat("16-bit access to ", describe()));
  return static_cast<uint16_t*>(raw_data());
}

uint8_t* Tensor::data_u8() const {
  if (element_size() != 1) throw InternalError("tensor", concat("8-bit access to ", describe()));
  return static_cast<uint8_t*>(raw_data());
}

Tensor Tensor::reshape(const Shape& shape) const {
  if (!is_contiguous()) throw InternalError("tensor", concat("reshape of non-contiguous ", describe()));
  Shape resolved = shape;
  int inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1) {
      if (inferred >= 0) throw Error("tensor", "reshape with more than one -1");
      inferred = static_cast<int>(i);
    } else {
      known *= resolved[i];
    }
  }
  if (inferred >= 0) resolved[inferred] = known ? numel() / known : 0;
  if (shape_numel(resolved) != numel())
    throw Error("tensor", concat("cannot reshape ", describe(), " to ", shape_to_string(shape)));
  return Tensor(storage_, resolved, dtype_, offset_);
}

Tensor Tensor::slice(int dim, int64_t start, int64_t end) const {
  dim = normalize_dim(dim, ndim());
  if (start < 0 || end < start || end > shape_[dim])
    throw Error("tensor", concat("slice [", start, ", ", end, ") of dim ", dim, " is outside ", describe()));
  Shape shape = shape_;
  shape[dim] = end - start;
  return Tensor(storage_, shape, strides_, dtype_, offset_ + start * strides_[dim]);
}

Tensor Tensor::select(int dim, int64_t index) const {
  dim = normalize_dim(dim, ndim());
  if (index < 0 || index >= shape_[dim])
    throw Error("tensor", concat("index ", index, " of dim ", dim, " is outside ", describe()));
  Shape shape = shape_, strides = strides_;
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  return Tensor(storage_, shape, strides, dtype_, offset_ + index * strides_[dim]);
}

Tensor Tensor::permute(const std::vector<int>& order) const {
  if (order.size() != shape_.size())
    throw InternalError("tensor", concat("permute rank mismatch for ", describe()));
  Shape shape(order.size()), strides(order.size());
  std::vector<bool> used(order.size(), false);
  for (size_t i = 0; i < order.size(); ++i) {
    const int source = normalize_dim(order[i], ndim());
    if (used[source]) throw InternalError("tensor", "permute repeats a dim");
    used[source] = true;
    shape[i] = shape_[source];
    strides[i] = strides_[source];
  }
  return Tensor(storage_, shape, strides, dtype_, offset_);
}

Tensor Tensor::transpose(int first, int second) const {
  std::vector<int> order(shape_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::swap(order[normalize_dim(first, ndim())], order[normalize_dim(second, ndim())]);
  return permute(order);
}

Tensor Tensor::unsqueeze(int dim) const {
  dim = normalize_dim(dim, ndim() + 1);
  Shape shape = shape_, strides = strides_;
  const int64_t stride = dim < ndim() ? strides_[dim] * shape_[dim] : 1;
  shape.insert(shape.begin() + dim, 1);
  strides.insert(strides.begin() + dim, stride);
  return Tensor(storage_, shape, strides, dtype_, offset_);
}

Tensor Tensor::squeeze(int dim) const {
  dim = normalize_dim(dim, ndim());
  if (shape_[dim] != 1) throw InternalError("tensor", concat("squeeze of dim ", dim, " of ", describe()));
  return select(dim, 0);
}

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset_elements) const {
  return Tensor(storage_, shape, strides, dtype_, offset_elements);
}

std::string Tensor::describe() const {
  if (!storage_) return "undefined tensor";
  return concat(dtype_name(dtype_), shape_to_string(shape_));
}

void for_each_offset(const Shape& shape, const Shape& strides, const std::function<void(int64_t)>& visit) {
  const int rank = static_cast<int>(shape.size());
  if (shape_numel(shape) == 0) return;
  std::vector<int64_t> index(rank, 0);
  int64_t offset = 0;
  while (true) {
    visit(offset);
    int dim = rank - 1;
    for (; dim >= 0; --dim) {
      if (++index[dim] < shape[dim]) {
        offset += strides[dim];
        break;
      }
      offset -= strides[dim] * (shape[dim] - 1);
      index[dim] = 0;
    }
    if (dim < 0) return;
  }
}

Tensor Tensor::to_host(DType dtype) const {
  if (!is_host_accessible()) throw InternalError("tensor", concat("to_host of device memory ", describe()));
  Tensor result = host(shape_, dtype);
  if (is_contiguous()) {
    convert_elements(raw_data(), dtype_, result.raw_data(), dtype, static_cast<size_t>(numel()));
    return result;
  }
  const char* base = static_cast<const char*>(raw_data());
  char* out = static_cast<char*>(result.raw_data());
  const size_t in_size = element_size(), out_size = dtype_size(dtype);
  int64_t index = 0;
  for_each_offset(shape_, strides_, [&](int64_t offset) {
    convert_elements(base + offset * static_cast<int64_t>(in_size), dtype_, out + index * out_size, dtype, 1);
    ++index;
  });
  return result;
}

std::vector<float> Tensor::to_floats() const {
  Tensor converted = to_host(DType::f32);
  const float* values = converted.data<float>();
  return std::vector<float>(values, values + converted.numel());
}

}  // namespace x2v
