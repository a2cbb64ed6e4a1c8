#pragma once
// Writes a state dict the way torch.save does, so PyTorch (torch.load, weights_only or not, mmap too) and
// x2v's own reader (io/pth.h) both read it: a stored zip "<stem>/..." holding data.pkl (a protocol-2
// pickle of an OrderedDict name -> tensor), one entry data/<key> per tensor (64-byte aligned, so readers
// can map it in place), byteorder, version and .data/serialization_id. Files past 4 GiB use zip64.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace x2v::io {

// Writes `tensors` (host-accessible, unique names, in this order) to `path` under a temporary name in the
// same folder, renamed over `path` only when complete; on failure nothing is left behind and an existing
// `path` is untouched. Every x2v dtype is written (float8 as torch.float8_e4m3fn / float8_e5m2).
void write_pth(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors);

namespace detail {
// As write_pth, with zip64 fields for every size and offset of at least `zip64_from` bytes (write_pth:
// 0xffffffff, where the 32-bit fields end). Tests lower it to exercise zip64 without writing 4 GiB.
void write_pth(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
               uint64_t zip64_from);
}  // namespace detail

}  // namespace x2v::io
