#pragma once
// A minimal read-only zip reader for torch.save archives: central directory (with zip64), stored
// entries only. torch writes every entry uncompressed (and 64-byte aligned), so entries are used in place.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"

namespace x2v::io {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint64_t data_offset = 0;  // of the entry's bytes in the file
    uint64_t size = 0;         // uncompressed size
    uint64_t compressed_size = 0;
    uint16_t method = 0;  // 0 = stored
    uint32_t crc32 = 0;
    bool encrypted = false;
  };

  // Reads the central directory; throws Error(place, "<file>: <what>; <fix>") for anything malformed.
  ZipArchive(std::shared_ptr<const MappedFile> file, std::string place);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  // The bytes of a stored entry, in place in the mapping. Throws for compressed or encrypted entries.
  const uint8_t* stored_data(const Entry& entry) const;
  // Throws when the stored entry's bytes do not match its CRC-32 (a full read: for small entries).
  void verify_crc(const Entry& entry) const;
  const std::shared_ptr<const MappedFile>& file() const { return file_; }

 private:
  void read_central_directory();
  [[noreturn]] void fail(const std::string& what) const;

  std::shared_ptr<const MappedFile> file_;
  std::string place_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

uint32_t crc32(const uint8_t* data, size_t size);

}  // namespace x2v::io
