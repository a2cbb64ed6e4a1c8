// Writes safetensors files atomically: a temporary file in the target directory, renamed when complete.

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"

namespace x2v::io {
namespace {

constexpr const char* kPlace = "safetensors";

void check_tensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::unordered_set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw Error(kPlace, concat(path, ": '", name, "' cannot name a tensor; choose another name"));
    if (!seen.insert(name).second)
      throw Error(kPlace, concat(path, ": tensor '", name, "' is given twice; tensor names must be unique"));
    if (!tensor.defined()) throw Error(kPlace, concat(path, ": tensor '", name, "' is undefined"));
    if (!tensor.is_host_accessible())
      throw Error(kPlace,
                  concat(path, ": tensor '", name, "' is in device memory; copy it to the host first"));
  }
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  check_tensors(path, tensors);

  // Data is laid out by decreasing element size so every tensor starts aligned to its element
  // (readers can then use it in place); the header keeps the caller's order.
  std::vector<size_t> data_order(tensors.size());
  for (size_t i = 0; i < data_order.size(); ++i) data_order[i] = i;
  std::stable_sort(data_order.begin(), data_order.end(), [&](size_t a, size_t b) {
    return tensors[a].second.element_size() > tensors[b].second.element_size();
  });
  std::vector<uint64_t> begin(tensors.size());
  uint64_t offset = 0;
  for (size_t i : data_order) {
    begin[i] = offset;
    offset += tensors[i].second.nbytes();
  }

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    header["__metadata__"] = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) header["__metadata__"][key] = value;
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& tensor = tensors[i].second;
    header[tensors[i].first] = {{"dtype", safetensors_dtype_name(tensor.dtype())},
                                {"shape", tensor.shape()},
                                {"data_offsets", {begin[i], begin[i] + tensor.nbytes()}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned

  AtomicFile file(kPlace, path);
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  file.write(length, sizeof(length));
  file.write(text.data(), text.size());
  for (size_t i : data_order) {
    const Tensor& tensor = tensors[i].second;
    if (tensor.nbytes() == 0) continue;
    if (tensor.is_contiguous()) {
      file.write(tensor.raw_data(), tensor.nbytes());
    } else {
      const Tensor contiguous = tensor.to_host(tensor.dtype());
      file.write(contiguous.raw_data(), contiguous.nbytes());
    }
  }
  file.commit();
}

}  // namespace x2v::io
