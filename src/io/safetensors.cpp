#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace x2v::io {
namespace {

constexpr const char* kPlace = "safetensors";
constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the limit of the reference implementation
constexpr const char* kCorruptFix = "the file is truncated or corrupt; re-download or re-export it";

struct FileDType {
  const char* name;
  int bits;
  std::optional<DType> dtype;
};

// Every dtype the format defines: listing works for all of them, loading for those x2v has.
const FileDType kFileDTypes[] = {
    {"F32", 32, DType::f32},        {"BF16", 16, DType::bf16},      {"F16", 16, DType::f16},
    {"F8_E4M3", 8, DType::f8_e4m3}, {"F8_E5M2", 8, DType::f8_e5m2}, {"I8", 8, DType::i8},
    {"I32", 32, DType::i32},        {"U8", 8, DType::u8},           {"F64", 64, std::nullopt},
    {"I64", 64, std::nullopt},      {"I16", 16, std::nullopt},      {"U16", 16, std::nullopt},
    {"U32", 32, std::nullopt},      {"U64", 64, std::nullopt},      {"BOOL", 8, std::nullopt},
    {"F8_E8M0", 8, std::nullopt},   {"F6_E2M3", 6, std::nullopt},   {"F6_E3M2", 6, std::nullopt},
    {"F4", 4, std::nullopt},        {"C64", 64, std::nullopt}};

const FileDType* find_file_dtype(const std::string& name) {
  for (const FileDType& entry : kFileDTypes)
    if (name == entry.name) return &entry;
  return nullptr;
}

std::string supported_dtype_list() {
  std::string list;
  for (const FileDType& entry : kFileDTypes)
    if (entry.dtype) list += concat(list.empty() ? "" : ", ", entry.name);
  return list;
}

}  // namespace

const char* safetensors_dtype_name(DType dtype) {
  for (const FileDType& entry : kFileDTypes)
    if (entry.dtype == dtype) return entry.name;
  throw InternalError(kPlace, concat("no safetensors name for dtype ", dtype_name(dtype)));
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(MappedFile::open(path, kPlace)) {
  parse_header();
}

void SafetensorsFile::parse_header() {
  const std::string& path = file_->path();
  const uint64_t file_size = file_->size();
  if (file_size < 8)
    throw Error(kPlace, concat(path, ": the file is ", file_size,
                               " bytes, too short for the 8-byte header length; ", kCorruptFix));
  const uint64_t header_bytes = read_le64(file_->data());
  if (header_bytes > file_size - 8)
    throw Error(kPlace, concat(path, ": header length ", header_bytes, " is larger than the file (",
                               file_size, " bytes); ", kCorruptFix, " (or it is not a safetensors file)"));
  if (header_bytes > kMaxHeaderBytes)
    throw Error(kPlace, concat(path, ": header length ", header_bytes, " exceeds the ", kMaxHeaderBytes,
                               "-byte limit of the format; the file is not a valid safetensors file"));
  const uint64_t data_start = 8 + header_bytes;
  const char* header_text = reinterpret_cast<const char*>(file_->data() + 8);

  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(header_text, header_text + header_bytes);
  } catch (const nlohmann::json::exception& error) {
    throw Error(kPlace, concat(path, ": header is not valid JSON (", error.what(), "); ", kCorruptFix));
  }
  if (!header.is_object())
    throw Error(kPlace,
                concat(path, ": header is a JSON ", header.type_name(), ", not an object; ", kCorruptFix));

  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object())
        throw Error(kPlace, concat(path, ": \"__metadata__\" is a ", value.type_name(),
                                   ", expected an object of strings; ", kCorruptFix));
      for (const auto& [key, text] : value.items())
        metadata_[key] = text.is_string() ? text.get<std::string>() : text.dump();
      continue;
    }
    const std::string where = concat(path, ": tensor '", name, "'");
    if (!value.is_object())
      throw Error(kPlace,
                  concat(where, " is described by a ", value.type_name(), ", not an object; ", kCorruptFix));
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!value.contains(field))
        throw Error(kPlace, concat(where, " has no \"", field, "\"; ", kCorruptFix));

    const auto& dtype_value = value["dtype"];
    if (!dtype_value.is_string())
      throw Error(kPlace, concat(where, " has a dtype that is not a string; ", kCorruptFix));
    const std::string file_dtype = dtype_value.get<std::string>();
    const FileDType* known = find_file_dtype(file_dtype);
    if (!known)
      throw Error(kPlace, concat(where, " has unknown dtype '", file_dtype,
                                 "'; the file may come from a newer safetensors; x2v loads ",
                                 supported_dtype_list()));

    const auto& shape_value = value["shape"];
    if (!shape_value.is_array())
      throw Error(kPlace, concat(where, " has a shape that is not an array; ", kCorruptFix));
    Shape shape;
    uint64_t numel = 1;
    for (const auto& size : shape_value) {
      if (!size.is_number_unsigned())
        throw Error(kPlace, concat(where, " has shape ", shape_value.dump(),
                                   " whose sizes are not all non-negative integers; ", kCorruptFix));
      const uint64_t extent = size.get<uint64_t>();
      if (extent > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, extent, &numel))
        throw Error(kPlace,
                    concat(where, " has shape ", shape_value.dump(), " too large to address; ", kCorruptFix));
      shape.push_back(static_cast<int64_t>(extent));
    }

    const auto& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      throw Error(kPlace, concat(where, " has data_offsets ", offsets.dump(),
                                 ", expected [begin, end] with non-negative integers; ", kCorruptFix));
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (end < begin)
      throw Error(kPlace, concat(where, " has data_offsets [", begin, ", ", end, "] with end < begin; ",
                                 kCorruptFix));
    uint64_t bits = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(known->bits), &bits) || bits % 8 != 0)
      throw Error(kPlace, concat(where, " of shape ", shape_to_string(shape), " and dtype ", file_dtype,
                                 " does not fill whole bytes; ", kCorruptFix));
    const uint64_t bytes = bits / 8;
    if (end - begin != bytes)
      throw Error(kPlace, concat(where, " has ", end - begin, " bytes of data but ", file_dtype,
                                 shape_to_string(shape), " needs ", bytes, "; ", kCorruptFix));
    if (end > file_size - data_start)
      throw Error(kPlace, concat(where, " has data [", begin, ", ", end, ") past the end of the file (",
                                 file_size - data_start, " data bytes); ", kCorruptFix));

    Entry entry;
    entry.info = TensorInfo{name, file_dtype, known->dtype, std::move(shape), bytes};
    entry.begin = data_start + begin;
    entry.end = data_start + end;
    index_.emplace(name, entries_.size());
    names_.push_back(name);
    entries_.push_back(std::move(entry));
  }

  // Two tensors sharing bytes means the header is corrupt (the format never aliases).
  std::vector<const Entry*> by_offset;
  for (const Entry& entry : entries_)
    if (entry.end > entry.begin) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry& previous = *by_offset[i - 1];
    const Entry& current = *by_offset[i];
    if (current.begin < previous.end)
      throw Error(kPlace, concat(path, ": tensors '", previous.info.name, "' [", previous.begin - data_start,
                                 ", ", previous.end - data_start, ") and '", current.info.name, "' [",
                                 current.begin - data_start, ", ", current.end - data_start, ") overlap; ",
                                 kCorruptFix));
  }
}

const SafetensorsFile::Entry& SafetensorsFile::entry(const std::string& name) const {
  const auto found = index_.find(name);
  if (found == index_.end())
    throw Error(kPlace, concat(path(), ": no tensor named '", name, "' (the file has ", entries_.size(),
                               " tensors); list them with `x2v inspect ", path(), "`"));
  return entries_[found->second];
}

TensorInfo SafetensorsFile::info(const std::string& name) const {
  return entry(name).info;
}

void SafetensorsFile::release(const std::string& name) const {
  if (!contains(name)) return;
  const Entry& found = entry(name);
  file_->release(found.begin, found.end - found.begin);
}

Tensor SafetensorsFile::load(const std::string& name, std::optional<DType> dtype) const {
  const Entry& found = entry(name);
  const TensorInfo& info = found.info;
  check_loadable(kPlace, path(), info, supported_dtype_list(),
                 "convert the checkpoint, e.g. with tensor.float() in PyTorch");
  const DType source = *info.dtype;
  const DType target = dtype.value_or(source);
  const uint8_t* data = file_->data() + found.begin;
  const bool aligned = reinterpret_cast<uintptr_t>(data) % dtype_size(source) == 0;
  if (target == source && aligned) {
    auto keep_alive = std::const_pointer_cast<MappedFile>(file_);
    return Tensor::borrow(const_cast<uint8_t*>(data), info.shape, source, std::move(keep_alive));
  }
  const size_t count = static_cast<size_t>(shape_numel(info.shape));
  Tensor result = Tensor::host(info.shape, target);
  if (count == 0) return result;
  if (aligned) {
    convert_elements(data, source, result.raw_data(), target, count);
  } else {  // element loads need aligned memory: stage the bytes first
    Tensor staging = Tensor::host(info.shape, source);
    if (info.bytes) std::memcpy(staging.raw_data(), data, info.bytes);
    convert_elements(staging.raw_data(), source, result.raw_data(), target, count);
  }
  return result;
}

}  // namespace x2v::io
