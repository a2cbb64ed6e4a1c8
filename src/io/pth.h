#pragma once
// torch.save archives (.pth/.pt/.bin, the zip format of torch >= 1.6): <dir>/data.pkl is a pickled
// state dict whose tensors refer by key to stored entries <dir>/data/<key>. The pickle is read by a
// restricted unpickler that knows only the globals a state dict needs and refuses any other (such as
// os.system): nothing in the file is ever executed.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/checkpoint.h"
#include "io/zip_archive.h"

namespace x2v::io {

// One dtype as torch names it, with its storage class and, when x2v loads it, x2v's dtype.
struct TorchDType {
  const char* name;          // "float32" (torch.float32)
  const char* storage_name;  // "FloatStorage" (torch.FloatStorage); nullptr when torch has none
  size_t element_size;
  std::optional<DType> dtype;
};

class PthFile final : public Checkpoint {
 public:
  // Maps the archive and reads its pickle; throws Error("pth", "<file>: <what>; <fix>").
  explicit PthFile(const std::string& path);

  const std::string& path() const override { return archive_->file()->path(); }
  std::string format() const override { return "pth"; }
  const std::vector<std::string>& names() const override { return names_; }
  bool contains(const std::string& name) const override { return index_.count(name) != 0; }
  TensorInfo info(const std::string& name) const override;
  Tensor load(const std::string& name, std::optional<DType> dtype = std::nullopt) const override;
  void release(const std::string& name) const override;
  bool reads_by_ranges() const override { return true; }
  std::string note() const override { return note_; }

 private:
  struct Record {
    TensorInfo info;
    const TorchDType* torch_dtype = nullptr;
    const ZipArchive::Entry* storage = nullptr;  // the archive entry holding the storage's bytes
    uint64_t storage_elements = 0;
    int64_t offset = 0;  // in elements
    Shape strides;
  };
  const Record& record(const std::string& name) const;

  std::unique_ptr<ZipArchive> archive_;
  std::vector<Record> records_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, size_t> index_;
  std::string note_;
};

}  // namespace x2v::io
