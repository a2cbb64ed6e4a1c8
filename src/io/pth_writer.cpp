// torch.save's archive layout, written directly: a protocol-2 pickle and a stored zip with aligned entries.
//
// The records ".format_version" and ".storage_alignment" that torch >= 2.5 adds are left out on purpose:
// their presence lets torch.load compute storage offsets from miniz's exact record layout (data
// descriptors included) instead of reading the headers, and this writer does not mimic miniz byte for byte.
// Without them torch.load reads every offset from the zip headers, as for files of torch 2.1 - 2.4.
#include "io/pth_writer.h"

#include <fcntl.h>
#include <unistd.h>

extern "C" {
#include <libavutil/crc.h>
}

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "core/error.h"
#include "io/atomic_file.h"

namespace x2v::io {
namespace {

constexpr const char* kPlace = "pth";
constexpr uint64_t kAlignment = 64;          // torch's storage alignment: entries can be mapped in place
constexpr uint64_t kMax32 = 0xffffffffu;     // a saturated 32-bit zip field: the value is in zip64 fields
constexpr size_t kChunk = size_t{64} << 20;  // CRC and write in cache-sized steps

// How torch pickles a tensor of each dtype: a typed storage class for the classic dtypes
// (_rebuild_tensor_v2), an untyped storage plus the dtype for float8 (_rebuild_tensor_v3), as torch does.
struct TorchType {
  const char* storage;  // "FloatStorage"; nullptr: UntypedStorage sized in bytes
  const char* dtype;    // "float8_e4m3fn"; used with UntypedStorage
};

TorchType torch_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return {"FloatStorage", "float32"};
    case DType::bf16:
      return {"BFloat16Storage", "bfloat16"};
    case DType::f16:
      return {"HalfStorage", "float16"};
    case DType::f8_e4m3:
      return {nullptr, "float8_e4m3fn"};
    case DType::f8_e5m2:
      return {nullptr, "float8_e5m2"};
    case DType::i8:
      return {"CharStorage", "int8"};
    case DType::i32:
      return {"IntStorage", "int32"};
    case DType::u8:
      return {"ByteStorage", "uint8"};
  }
  throw InternalError(kPlace, concat("no torch dtype for dtype ", static_cast<int>(dtype)));
}

// The few pickle opcodes a state dict needs (protocol 2).
class PickleWriter {
 public:
  PickleWriter() { op(0x80, 2); }  // PROTO 2

  void global(const char* module, const char* name) { bytes_ += concat('c', module, '\n', name, '\n'); }
  void string(const std::string& text) {  // BINUNICODE
    op('X');
    put_le(text.size(), 4);
    bytes_ += text;
  }
  void integer(int64_t value) {
    if (value >= 0 && value < 0x100) {
      op('K', static_cast<uint8_t>(value));  // BININT1
    } else if (value >= 0 && value < 0x10000) {
      op('M');  // BININT2
      put_le(static_cast<uint64_t>(value), 2);
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      op('J');  // BININT
      put_le(static_cast<uint32_t>(static_cast<int32_t>(value)), 4);
    } else {
      op(0x8a, 8);  // LONG1: 8 bytes of two's complement
      put_le(static_cast<uint64_t>(value), 8);
    }
  }
  void integer_tuple(const Shape& values) {
    if (values.empty()) return op(')');  // EMPTY_TUPLE
    mark();
    for (const int64_t value : values) integer(value);
    op('t');  // TUPLE
  }
  // Calls collections.OrderedDict(): the dict itself, and every tensor's (empty) backward hooks.
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');  // EMPTY_TUPLE
    op('R');  // REDUCE
  }
  void mark() { op('('); }
  void op(uint8_t code) { bytes_.push_back(static_cast<char>(code)); }
  void op(uint8_t code, uint8_t argument) {
    op(code);
    op(argument);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void put_le(uint64_t value, int count) {
    for (int i = 0; i < count; ++i) bytes_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
  std::string bytes_;
};

std::string state_dict_pickle(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  PickleWriter pickle;
  pickle.empty_ordered_dict();
  if (!tensors.empty()) pickle.mark();
  for (size_t key = 0; key < tensors.size(); ++key) {
    const Tensor& tensor = tensors[key].second;
    const TorchType type = torch_type(tensor.dtype());
    pickle.string(tensors[key].first);
    pickle.global("torch._utils", type.storage ? "_rebuild_tensor_v2" : "_rebuild_tensor_v3");
    pickle.mark();
    // Persistent id ('storage', storage class, key, location, size), resolved by torch.load's
    // persistent_load.
    pickle.mark();
    pickle.string("storage");
    if (type.storage)
      pickle.global("torch", type.storage);
    else
      pickle.global("torch.storage", "UntypedStorage");
    pickle.string(std::to_string(key));
    pickle.string("cpu");
    pickle.integer(type.storage ? tensor.numel() : static_cast<int64_t>(tensor.nbytes()));
    pickle.op('t');     // TUPLE
    pickle.op('Q');     // BINPERSID
    pickle.integer(0);  // storage offset: every tensor has its own storage
    pickle.integer_tuple(tensor.shape());
    pickle.integer_tuple(contiguous_strides(tensor.shape()));
    pickle.op(0x89);  // NEWFALSE: requires_grad
    pickle.empty_ordered_dict();
    if (!type.storage) pickle.global("torch", type.dtype);
    pickle.op('t');  // TUPLE: the arguments
    pickle.op('R');  // REDUCE
  }
  if (!tensors.empty()) pickle.op('u');  // SETITEMS
  pickle.op('.');                        // STOP
  return pickle.bytes();
}

uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t size) {
  static const AVCRC* table = av_crc_get_table(AV_CRC_32_IEEE_LE);
  return av_crc(table, crc, data, size);
}

// A stored (uncompressed) zip written once, front to back, into a temporary file that finish() renames
// onto the target; the destructor removes it otherwise.
class ZipWriter {
 public:
  ZipWriter(const std::string& target, uint64_t zip64_from)
      : file_(kPlace, target), zip64_from_(zip64_from) {}

  // Adds one entry whose data starts on a kAlignment boundary; returns its CRC-32.
  uint32_t add(const std::string& name, const uint8_t* data, uint64_t size) {
    Entry entry{name, file_.position(), size, 0};
    const bool zip64 = size >= zip64_from_;
    std::string header;
    put(header, 0x04034b50, 4);
    put(header, zip64 ? 45 : 20, 2);  // version needed: 4.5 for zip64
    put(header, kUtf8Names, 2);
    put(header, 0, 2);  // stored
    put(header, 0, 2);  // time 00:00
    put(header, kDate, 2);
    put(header, 0, 4);  // CRC-32: patched once the data is written
    put(header, zip64 ? kMax32 : size, 4);
    put(header, zip64 ? kMax32 : size, 4);
    std::string extra;
    if (zip64) {
      put(extra, 0x0001, 2);
      put(extra, 16, 2);
      put(extra, size, 8);
      put(extra, size, 8);
    }
    // torch's padding field ("FB", filled with 'Z') puts the data on the alignment boundary.
    const uint64_t unpadded = file_.position() + header.size() + 4 + name.size() + extra.size() + 4;
    const uint64_t padding = (kAlignment - unpadded % kAlignment) % kAlignment;
    put(extra, 0x4246, 2);
    put(extra, padding, 2);
    extra.append(padding, 'Z');
    put(header, name.size(), 2);
    put(header, extra.size(), 2);
    header += name;
    header += extra;
    write(header.data(), header.size());

    uint32_t crc = 0xffffffffu;
    for (uint64_t done = 0; done < size;) {
      const size_t step = static_cast<size_t>(std::min<uint64_t>(size - done, kChunk));
      crc = crc32_update(crc, data + done, step);
      write(data + done, step);
      done += step;
    }
    entry.crc32 = crc ^ 0xffffffffu;
    std::string crc_bytes;
    put(crc_bytes, entry.crc32, 4);
    file_.write_at(entry.local_offset + 14, crc_bytes.data(), 4);
    entries_.push_back(std::move(entry));
    return entries_.back().crc32;
  }

  // Central directory and end records (zip64 ones always, as torch writes them), then the rename.
  void finish() {
    const uint64_t directory_offset = file_.position();
    std::string directory;
    for (const Entry& entry : entries_) {
      const bool zip64_size = entry.size >= zip64_from_, zip64_offset = entry.local_offset >= zip64_from_;
      std::string extra;
      if (zip64_size || zip64_offset) {
        put(extra, 0x0001, 2);
        put(extra, (zip64_size ? 16 : 0) + (zip64_offset ? 8 : 0), 2);
        if (zip64_size) {
          put(extra, entry.size, 8);
          put(extra, entry.size, 8);
        }
        if (zip64_offset) put(extra, entry.local_offset, 8);
      }
      put(directory, 0x02014b50, 4);
      put(directory, 45, 2);  // made by: zip spec 4.5
      put(directory, zip64_size ? 45 : 20, 2);
      put(directory, kUtf8Names, 2);
      put(directory, 0, 2);
      put(directory, 0, 2);
      put(directory, kDate, 2);
      put(directory, entry.crc32, 4);
      put(directory, zip64_size ? kMax32 : entry.size, 4);
      put(directory, zip64_size ? kMax32 : entry.size, 4);
      put(directory, entry.name.size(), 2);
      put(directory, extra.size(), 2);
      put(directory, 0, 2);  // comment
      put(directory, 0, 2);  // disk
      put(directory, 0, 2);  // internal attributes
      put(directory, 0, 4);  // external attributes
      put(directory, zip64_offset ? kMax32 : entry.local_offset, 4);
      directory += entry.name;
      directory += extra;
    }
    const uint64_t count = entries_.size(), directory_size = directory.size();
    const uint64_t zip64_end = directory_offset + directory_size;
    put(directory, 0x06064b50, 4);  // zip64 end of central directory
    put(directory, 44, 8);
    put(directory, 45, 2);
    put(directory, 45, 2);
    put(directory, 0, 4);
    put(directory, 0, 4);
    put(directory, count, 8);
    put(directory, count, 8);
    put(directory, directory_size, 8);
    put(directory, directory_offset, 8);
    put(directory, 0x07064b50, 4);  // its locator
    put(directory, 0, 4);
    put(directory, zip64_end, 8);
    put(directory, 1, 4);
    put(directory, 0x06054b50, 4);  // end of central directory
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, std::min<uint64_t>(count, 0xffff), 2);
    put(directory, std::min<uint64_t>(count, 0xffff), 2);
    put(directory, directory_size >= zip64_from_ ? kMax32 : directory_size, 4);
    put(directory, directory_offset >= zip64_from_ ? kMax32 : directory_offset, 4);
    put(directory, 0, 2);
    write(directory.data(), directory.size());

    file_.commit();
  }

 private:
  static constexpr uint64_t kUtf8Names = 0x0800;              // general purpose flag bit 11
  static constexpr uint64_t kDate = (0 << 9) | (1 << 5) | 1;  // DOS date 1980-01-01

  struct Entry {
    std::string name;
    uint64_t local_offset, size;
    uint32_t crc32;
  };

  static void put(std::string& out, uint64_t value, int count) {
    for (int i = 0; i < count; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }

  void write(const void* data, size_t bytes) { file_.write(data, bytes); }

  AtomicFile file_;
  uint64_t zip64_from_;

  std::vector<Entry> entries_;
};

void check_tensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::unordered_set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    if (!seen.insert(name).second)
      throw Error(kPlace, concat(path, ": tensor '", name, "' is given twice; tensor names must be unique"));
    if (!tensor.defined()) throw Error(kPlace, concat(path, ": tensor '", name, "' is undefined"));
    if (!tensor.is_host_accessible())
      throw Error(kPlace,
                  concat(path, ": tensor '", name, "' is in device memory; copy it to the host first"));
  }
}

// The archive's top folder: torch uses the file name without its extension.
std::string archive_name(const std::string& path) {
  const std::string stem = std::filesystem::path(path).stem().string();
  return stem.empty() ? "archive" : stem;
}

// torch writes 40 random decimal digits; a digest of the content keeps identical saves identical.
std::string serialization_id(const std::string& pickle, const std::vector<uint32_t>& crcs) {
  uint64_t first = 0xcbf29ce484222325ull, second = 0x84222325cbf29ce4ull;  // FNV-1a, two seeds
  auto mix = [&](uint8_t byte) {
    first = (first ^ byte) * 0x100000001b3ull;
    second = (second ^ byte) * 0x100000001b3ull + 1;
  };
  for (const char byte : pickle) mix(static_cast<uint8_t>(byte));
  for (const uint32_t crc : crcs)
    for (int i = 0; i < 4; ++i) mix(static_cast<uint8_t>(crc >> (8 * i)));
  char text[48];
  std::snprintf(text, sizeof(text), "%020llu%020llu", static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(second));
  return text;
}

}  // namespace

namespace detail {

void write_pth(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
               uint64_t zip64_from) {
  if (path.empty()) throw Error(kPlace, "the output path is empty; name a .pth file");
  check_tensors(path, tensors);
  const std::string folder = archive_name(path) + "/";
  const std::string pickle = state_dict_pickle(tensors);
  auto bytes_of = [](const std::string& text) { return reinterpret_cast<const uint8_t*>(text.data()); };

  ZipWriter zip(path, zip64_from);
  std::vector<uint32_t> crcs;
  crcs.push_back(zip.add(folder + "data.pkl", bytes_of(pickle), pickle.size()));
  const std::string byteorder = "little";  // x2v runs on little-endian hosts only
  crcs.push_back(zip.add(folder + "byteorder", bytes_of(byteorder), byteorder.size()));
  for (size_t key = 0; key < tensors.size(); ++key) {
    const Tensor& tensor = tensors[key].second;
    const Tensor contiguous = tensor.is_contiguous() ? tensor : tensor.to_host(tensor.dtype());
    crcs.push_back(zip.add(concat(folder, "data/", key), static_cast<const uint8_t*>(contiguous.raw_data()),
                           contiguous.nbytes()));
  }
  const std::string version = "3\n";  // torch's archive format version
  crcs.push_back(zip.add(folder + "version", bytes_of(version), version.size()));
  const std::string id = serialization_id(pickle, crcs);
  zip.add(folder + ".data/serialization_id", bytes_of(id), id.size());
  zip.finish();
}

}  // namespace detail

void write_pth(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  detail::write_pth(path, tensors, 0xffffffffu);
}

}  // namespace x2v::io
