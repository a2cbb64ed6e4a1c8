#include "io/memory_checkpoint.h"

namespace x2v::io {

void MemoryCheckpoint::add(const std::string& name, const Tensor& tensor) {
  if (!tensor.is_host_accessible()) throw InternalError("checkpoint", "memory checkpoints hold host tensors");
  if (!tensors_.count(name)) names_.push_back(name);
  tensors_[name] = tensor;
}

TensorInfo MemoryCheckpoint::info(const std::string& name) const {
  auto found = tensors_.find(name);
  if (found == tensors_.end()) throw Error("checkpoint", concat(path_, " has no tensor '", name, "'"));
  const Tensor& tensor = found->second;
  TensorInfo info;
  info.name = name;
  info.file_dtype = dtype_name(tensor.dtype());
  info.dtype = tensor.dtype();
  info.shape = tensor.shape();
  info.bytes = tensor.nbytes();
  return info;
}

Tensor MemoryCheckpoint::load(const std::string& name, std::optional<DType> dtype) const {
  const TensorInfo details = info(name);
  const Tensor& tensor = tensors_.at(name);
  if ((!dtype || *dtype == tensor.dtype()) && tensor.is_contiguous()) return tensor;
  return tensor.to_host(dtype.value_or(tensor.dtype()));
}

}  // namespace x2v::io
