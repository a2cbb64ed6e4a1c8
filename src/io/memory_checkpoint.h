#pragma once
// A checkpoint held in memory: for models built in-process (benchmarks, converters, tests).
#include <map>

#include "io/checkpoint.h"

namespace x2v::io {

class MemoryCheckpoint final : public Checkpoint {
 public:
  explicit MemoryCheckpoint(std::string label = "memory") : path_(std::move(label)) {}
  // Adds (or replaces) a host tensor.
  void add(const std::string& name, const Tensor& tensor);

  const std::string& path() const override { return path_; }
  std::string format() const override { return "memory"; }
  const std::vector<std::string>& names() const override { return names_; }
  bool contains(const std::string& name) const override { return tensors_.count(name) > 0; }
  TensorInfo info(const std::string& name) const override;
  Tensor load(const std::string& name, std::optional<DType> dtype = std::nullopt) const override;

 private:
  std::string path_;
  std::vector<std::string> names_;
  std::map<std::string, Tensor> tensors_;
};

}  // namespace x2v::io
