#pragma once
// Files that appear only when complete: written under a hidden temporary name in the target's folder
// (so the final rename is atomic) and renamed onto the target by commit(). Destroying an uncommitted
// AtomicFile removes the temporary, so a failed write leaves nothing behind; the temporary is registered
// with interrupt_cleanup.h while it exists, so SIGINT or SIGTERM removes it too.
#include <cstdint>
#include <string>
#include <vector>

namespace x2v::io {

class AtomicFile {
 public:
  // `place` tags error messages ("safetensors", "pth", ...).
  AtomicFile(const char* place, const std::string& target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(const void* data, size_t bytes);
  // Overwrites bytes already written (e.g. a checksum known only after the data).
  void write_at(uint64_t offset, const void* data, size_t bytes);
  // Bytes written so far by write().
  uint64_t position() const { return position_; }
  // Flushes to disk, closes and renames onto the target.
  void commit();

 private:
  [[noreturn]] void fail(const char* what) const;

  const char* place_;
  std::string target_, temporary_;
  int descriptor_ = -1;
  bool committed_ = false;
  uint64_t position_ = 0;
};

// The whole of `bytes` as `path`, atomically.
void write_file_atomically(const char* place, const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace x2v::io
