#include "io/zip_archive.h"

#include <algorithm>
#include <array>

#include "core/error.h"

namespace x2v::io {
namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr size_t kEndSize = 22, kZip64EndSize = 56, kZip64LocatorSize = 20;
constexpr size_t kCentralHeaderSize = 46, kLocalHeaderSize = 30;
constexpr const char* kCorruptFix = "the file is truncated or corrupt; re-download or re-save it";

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t value = i;
    for (int bit = 0; bit < 8; ++bit) value = (value & 1) ? 0xedb88320u ^ (value >> 1) : value >> 1;
    table[i] = value;
  }
  return table;
}

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

ZipArchive::ZipArchive(std::shared_ptr<const MappedFile> file, std::string place)
    : file_(std::move(file)), place_(std::move(place)) {
  read_central_directory();
}

void ZipArchive::fail(const std::string& what) const {
  throw Error(place_, concat(file_->path(), ": ", what, "; ", kCorruptFix));
}

void ZipArchive::read_central_directory() {
  const uint8_t* data = file_->data();
  const uint64_t size = file_->size();
  if (size < kEndSize) fail(concat("the file is ", size, " bytes, too short to be a zip archive"));

  // The end record sits in the last 22 + 65535 (comment) bytes; search backwards for its signature.
  uint64_t end_offset = UINT64_MAX;
  const uint64_t lowest = size > kEndSize + 0xffff ? size - kEndSize - 0xffff : 0;
  for (uint64_t offset = size - kEndSize + 1; offset-- > lowest;) {
    if (read_le32(data + offset) == kEndSignature) {
      end_offset = offset;
      break;
    }
  }
  if (end_offset == UINT64_MAX) fail("no zip end-of-central-directory record");
  const uint8_t* end = data + end_offset;
  uint64_t entry_count = read_le16(end + 10);
  uint64_t directory_size = read_le32(end + 12);
  uint64_t directory_offset = read_le32(end + 16);
  if (read_le16(end + 4) != 0 || read_le16(end + 6) != 0) fail("multi-part zip archives are not supported");

  if (end_offset >= kZip64LocatorSize && read_le32(end - kZip64LocatorSize) == kZip64LocatorSignature) {
    const uint64_t zip64_end = read_le64(end - kZip64LocatorSize + 8);
    if (zip64_end > end_offset - kZip64LocatorSize ||
        end_offset - kZip64LocatorSize - zip64_end < kZip64EndSize ||
        read_le32(data + zip64_end) != kZip64EndSignature)
      fail("the zip64 end record is missing or out of place");
    entry_count = read_le64(data + zip64_end + 32);
    directory_size = read_le64(data + zip64_end + 40);
    directory_offset = read_le64(data + zip64_end + 48);
  }
  if (directory_offset > end_offset || directory_size > end_offset - directory_offset)
    fail(concat("the central directory [", directory_offset, ", +", directory_size,
                ") lies outside the file"));
  if (entry_count > directory_size / kCentralHeaderSize)
    fail(concat("the central directory cannot hold ", entry_count, " entries"));

  entries_.reserve(entry_count);
  uint64_t cursor = directory_offset;
  const uint64_t directory_end = directory_offset + directory_size;
  for (uint64_t i = 0; i < entry_count; ++i) {
    if (directory_end - cursor < kCentralHeaderSize || read_le32(data + cursor) != kCentralHeaderSignature)
      fail(concat("central directory entry ", i, " is malformed"));
    const uint8_t* header = data + cursor;
    Entry entry;
    const uint16_t flags = read_le16(header + 8);
    entry.encrypted = (flags & 1) != 0;
    entry.method = read_le16(header + 10);
    entry.crc32 = read_le32(header + 16);
    entry.compressed_size = read_le32(header + 20);
    entry.size = read_le32(header + 24);
    const uint16_t name_length = read_le16(header + 28), extra_length = read_le16(header + 30),
                   comment_length = read_le16(header + 32);
    uint64_t local_offset = read_le32(header + 42);
    const uint64_t record_size = kCentralHeaderSize + name_length + extra_length + comment_length;
    if (directory_end - cursor < record_size)
      fail(concat("central directory entry ", i, " runs past the directory"));
    entry.name.assign(reinterpret_cast<const char*>(header + kCentralHeaderSize), name_length);

    // Zip64 extra field: the 64-bit values of exactly those fields that are saturated above.
    const uint8_t* extra = header + kCentralHeaderSize + name_length;
    for (uint32_t position = 0; position + 4 <= extra_length;) {
      const uint16_t id = read_le16(extra + position), length = read_le16(extra + position + 2);
      if (position + 4 + length > extra_length)
        fail(concat("entry '", entry.name, "' has a malformed extra field"));
      if (id == 0x0001) {
        const uint8_t* field = extra + position + 4;
        uint32_t used = 0;
        auto take = [&](uint64_t* value) {
          if (used + 8 > length) fail(concat("entry '", entry.name, "' has a short zip64 field"));
          *value = read_le64(field + used);
          used += 8;
        };
        if (entry.size == 0xffffffffu) take(&entry.size);
        if (entry.compressed_size == 0xffffffffu) take(&entry.compressed_size);
        if (local_offset == 0xffffffffu) take(&local_offset);
      }
      position += 4 + length;
    }

    if (local_offset > size || size - local_offset < kLocalHeaderSize ||
        read_le32(data + local_offset) != kLocalHeaderSignature)
      fail(concat("entry '", entry.name, "' points to a missing local header"));
    const uint64_t data_offset = local_offset + kLocalHeaderSize + read_le16(data + local_offset + 26) +
                                 read_le16(data + local_offset + 28);
    if (data_offset > size || entry.compressed_size > size - data_offset)
      fail(concat("entry '", entry.name, "' (", entry.compressed_size,
                  " bytes) runs past the end of the file"));
    entry.data_offset = data_offset;
    if (!index_.emplace(entry.name, entries_.size()).second)
      fail(concat("entry '", entry.name, "' appears twice"));
    entries_.push_back(std::move(entry));
    cursor += record_size;
  }
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  const auto found = index_.find(name);
  return found == index_.end() ? nullptr : &entries_[found->second];
}

const uint8_t* ZipArchive::stored_data(const Entry& entry) const {
  if (entry.encrypted)
    throw Error(place_, concat(file_->path(), ": entry '", entry.name,
                               "' is encrypted; save it again with torch.save"));
  if (entry.method != 0 || entry.size != entry.compressed_size)
    throw Error(place_,
                concat(file_->path(), ": entry '", entry.name, "' is compressed (method ", entry.method,
                       "); torch.save writes uncompressed archives: re-save it with torch.save, or "
                       "re-zip it with `zip -0`"));
  return file_->data() + entry.data_offset;
}

void ZipArchive::verify_crc(const Entry& entry) const {
  const uint8_t* bytes = stored_data(entry);
  if (crc32(bytes, entry.size) != entry.crc32)
    fail(concat("entry '", entry.name, "' fails its CRC-32 check"));
}

}  // namespace x2v::io
