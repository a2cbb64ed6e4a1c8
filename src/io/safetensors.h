#pragma once
// safetensors: 8-byte little-endian header length, a JSON header
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data (offsets are relative to the end of the header). The reader maps the file and checks
// every header entry against the file before handing out anything; tensors borrow the mapping.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/checkpoint.h"
#include "io/mapped_file.h"

namespace x2v::io {

class SafetensorsFile final : public Checkpoint {
 public:
  // Maps and validates the file; throws Error("safetensors", "<file>: <what>; <fix>").
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const override { return file_->path(); }
  std::string format() const override { return "safetensors"; }
  const std::vector<std::string>& names() const override { return names_; }
  bool contains(const std::string& name) const override { return index_.count(name) != 0; }
  TensorInfo info(const std::string& name) const override;
  Tensor load(const std::string& name, std::optional<DType> dtype = std::nullopt) const override;
  void release(const std::string& name) const override;
  bool reads_by_ranges() const override { return true; }
  std::map<std::string, std::string> metadata() const override { return metadata_; }

 private:
  struct Entry {
    TensorInfo info;
    uint64_t begin = 0;  // absolute offsets in the file
    uint64_t end = 0;
  };
  const Entry& entry(const std::string& name) const;
  void parse_header();

  std::shared_ptr<const MappedFile> file_;
  std::vector<Entry> entries_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Several safetensors files seen as one checkpoint: the shards named by a *.safetensors.index.json
// ({"weight_map": {tensor: shard file}}), opened on first use, or a list of files (a model directory).
class SafetensorsShards final : public Checkpoint {
 public:
  static std::unique_ptr<SafetensorsShards> from_index(const std::string& index_path);
  static std::unique_ptr<SafetensorsShards> from_files(const std::string& directory,
                                                       const std::vector<std::string>& files);

  const std::string& path() const override { return path_; }
  std::string format() const override { return format_; }
  const std::vector<std::string>& names() const override { return names_; }
  bool contains(const std::string& name) const override { return shard_of_.count(name) != 0; }
  TensorInfo info(const std::string& name) const override;
  Tensor load(const std::string& name, std::optional<DType> dtype = std::nullopt) const override;
  void release(const std::string& name) const override;
  bool reads_by_ranges() const override { return true; }
  std::map<std::string, std::string> metadata() const override { return metadata_; }
  // Shards opened so far (lazy opening is observable for tests).
  size_t open_shard_count() const;

 private:
  SafetensorsShards() = default;
  const SafetensorsFile& shard_holding(const std::string& name) const;

  std::string path_;
  std::string format_;
  std::string directory_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::string> shard_of_;  // tensor -> shard file (relative to directory_)
  std::map<std::string, std::string> metadata_;
  mutable std::mutex mutex_;  // guards shards_: loader threads may open shards concurrently
  mutable std::unordered_map<std::string, std::shared_ptr<SafetensorsFile>> shards_;
};

// The safetensors dtype name of an x2v dtype ("BF16", "F8_E4M3", ...).
const char* safetensors_dtype_name(DType dtype);

// Writes `tensors` (host-accessible, in this order) and `metadata` as a safetensors file. The file is
// written under a temporary name in the same directory and renamed over `path` only when complete;
// on any failure the temporary file is removed and an existing `path` is left untouched.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace x2v::io
