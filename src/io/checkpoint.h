#pragma once
// One interface over every checkpoint format x2v reads: a .safetensors file, a sharded safetensors
// checkpoint (*.safetensors.index.json), a torch.save archive (.pth/.pt/.bin), or a model directory.
// Listing (names, info) works for every dtype the format has; loading needs an x2v dtype.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace x2v::io {

struct TensorInfo {
  std::string name;
  std::string file_dtype;      // the dtype as the file spells it: "BF16", "F64", "float64"
  std::optional<DType> dtype;  // x2v's dtype; empty when x2v cannot load this dtype
  Shape shape;
  uint64_t bytes = 0;  // numel * element size

  // x2v's name when loadable ("bf16"), else the file's name ("F64").
  std::string dtype_label() const { return dtype ? dtype_name(*dtype) : file_dtype; }
};

// Every method may be called from several threads at once (loader threads share one checkpoint).
class Checkpoint {
 public:
  virtual ~Checkpoint() = default;

  virtual const std::string& path() const = 0;
  // "safetensors", "safetensors index", "safetensors directory", "pth"
  virtual std::string format() const = 0;
  // Tensor names in file order.
  virtual const std::vector<std::string>& names() const = 0;
  virtual bool contains(const std::string& name) const = 0;
  // Throws Error naming the tensor when there is none of that name.
  virtual TensorInfo info(const std::string& name) const = 0;
  // Loads one tensor. Without `dtype` (or with the file's own dtype) the tensor is read in place from the
  // mapped file when it is contiguous and aligned (zero copy, read-only pages); otherwise, or when another
  // dtype is asked for, it is a converted contiguous host copy. Throws Error for a dtype x2v cannot load.
  virtual Tensor load(const std::string& name, std::optional<DType> dtype = std::nullopt) const = 0;
  // Gives the memory holding tensor `name`'s bytes back to the system (lazy loading reads a tensor once per
  // use); a later load reads the file again. Tensors loaded before stay valid. Formats held in memory
  // ignore it, and so does
  // every format for a name it does not hold.
  virtual void release(const std::string& name) const { (void)name; }
  // True when tensors are read from a file on demand (mapped), so lazy loading can read them by ranges.
  virtual bool reads_by_ranges() const { return false; }
  // Free-form metadata (safetensors "__metadata__", the index's "metadata").
  virtual std::map<std::string, std::string> metadata() const { return {}; }
  // Anything a user should know about how the file was read, e.g. "tensors nested under 'state_dict'".
  virtual std::string note() const { return {}; }
};

// Opens `path`: a .safetensors file, a *.safetensors.index.json, a .pth/.pt/.bin torch.save archive, or a
// directory holding diffusion_pytorch_model.safetensors.index.json (or another *.safetensors.index.json),
// else its *.safetensors files. Throws Error naming the path and what is accepted.
std::unique_ptr<Checkpoint> open_checkpoint(const std::string& path);

// Throws Error (tagged `place`) unless the tensor `info` describes can become an x2v Tensor: its dtype is
// one x2v loads (`loadable` lists the format's names for those) and it has at most kMaxTensorDims dims.
void check_loadable(const char* place, const std::string& path, const TensorInfo& info,
                    const std::string& loadable, const std::string& fix);

// "1.5 KiB", "3.2 GiB"
std::string human_bytes(uint64_t bytes);

}  // namespace x2v::io
