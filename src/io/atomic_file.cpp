#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "io/interrupt_cleanup.h"

namespace x2v::io {

AtomicFile::AtomicFile(const char* place, const std::string& target) : place_(place), target_(target) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path path(target);
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
  temporary_ =
      (directory / concat(".", path.filename().string(), ".tmp-", ::getpid(), "-", counter++)).string();
  // Registered before it exists: an interrupt between the two would otherwise leave it behind.
  register_temporary(temporary_);
  descriptor_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (descriptor_ < 0) {
    const int code = errno;
    unregister_temporary(temporary_);
    throw Error(place_, concat(target, ": cannot create a temporary file in ", directory.string(), " (",
                               std::strerror(code), "); check that the folder exists and is writable"));
  }
}

AtomicFile::~AtomicFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
  if (!committed_) {
    ::unlink(temporary_.c_str());
    unregister_temporary(temporary_);
  }
}

void AtomicFile::write(const void* data, size_t bytes) {
  const char* cursor = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t written = ::write(descriptor_, cursor, std::min<size_t>(bytes, size_t{1} << 30));
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) fail("cannot write");
    cursor += written;
    bytes -= static_cast<size_t>(written);
    position_ += static_cast<uint64_t>(written);
  }
}

void AtomicFile::write_at(uint64_t offset, const void* data, size_t bytes) {
  if (::pwrite(descriptor_, data, bytes, static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes))
    fail("cannot write");
}

void AtomicFile::commit() {
  if (::fsync(descriptor_) != 0) fail("cannot flush");
  const int descriptor = descriptor_;
  descriptor_ = -1;
  if (::close(descriptor) != 0) fail("cannot close");
  if (::rename(temporary_.c_str(), target_.c_str()) != 0) fail("cannot rename the finished file onto");
  committed_ = true;
  unregister_temporary(temporary_);
}

void AtomicFile::fail(const char* what) const {
  throw Error(place_, concat(target_, ": ", what, " it (", std::strerror(errno),
                             "); check free disk space and permissions"));
}

void write_file_atomically(const char* place, const std::string& path, const std::vector<uint8_t>& bytes) {
  AtomicFile file(place, path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace x2v::io
