#pragma once
// A whole file mapped read-only into memory. Checkpoint readers hand out tensors that point into the
// mapping (zero copy); each such tensor holds a shared_ptr to the MappedFile, so the mapping lives as
// long as any tensor borrowed from it. The pages are read-only: writing through a borrowed tensor
// faults, so copy (Tensor::to_host) before modifying weights in place.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace x2v::io {

class MappedFile {
 public:
  // Throws x2v::Error(place, ...) when the file is missing, not a regular file, or cannot be mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path, const std::string& place);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // Drops the pages of bytes [offset, offset + bytes) from memory; reading them again reads the file. The
  // mapping is private and read-only, so no content is lost (pages shared with a neighbouring range are
  // read again too).
  void release(size_t offset, size_t bytes) const;

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t* data_ = nullptr;  // nullptr for an empty file
  size_t size_ = 0;
};

// Little-endian reads from unaligned memory.
inline uint16_t read_le16(const uint8_t* bytes) {
  return static_cast<uint16_t>(bytes[0] | (bytes[1] << 8));
}
inline uint32_t read_le32(const uint8_t* bytes) {
  return static_cast<uint32_t>(bytes[0]) | (static_cast<uint32_t>(bytes[1]) << 8) |
         (static_cast<uint32_t>(bytes[2]) << 16) | (static_cast<uint32_t>(bytes[3]) << 24);
}
inline uint64_t read_le64(const uint8_t* bytes) {
  return static_cast<uint64_t>(read_le32(bytes)) | (static_cast<uint64_t>(read_le32(bytes + 4)) << 32);
}

}  // namespace x2v::io
