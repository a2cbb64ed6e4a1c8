#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace x2v::io {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path, const std::string& place) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) {
    const int code = errno;
    if (code == ENOENT) throw Error(place, concat(path, ": no such file; check the path"));
    throw Error(place,
                concat(path, ": cannot open (", std::strerror(code), "); check the path and permissions"));
  }
  struct stat status {};
  if (::fstat(descriptor, &status) != 0 || !S_ISREG(status.st_mode)) {
    ::close(descriptor);
    throw Error(place, concat(path, ": not a regular file; pass a checkpoint file"));
  }
  const size_t size = static_cast<size_t>(status.st_size);
  void* mapping = nullptr;
  if (size > 0) {
    mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, descriptor, 0);
    if (mapping == MAP_FAILED) {
      const int code = errno;
      ::close(descriptor);
      throw Error(place, concat(path, ": cannot map ", size, " bytes (", std::strerror(code),
                                "); check free address space and that the file is on a local disk"));
    }
  }
  ::close(descriptor);  // the mapping stays valid without the descriptor
  return std::shared_ptr<const MappedFile>(new MappedFile(path, static_cast<const uint8_t*>(mapping), size));
}

void MappedFile::release(size_t offset, size_t bytes) const {
  if (!data_ || bytes == 0 || offset >= size_) return;
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t begin = offset / page * page;
  const size_t end = std::min(size_, offset + bytes);
  // Advice only: a failure leaves the pages resident, which costs memory, never correctness.
  ::madvise(const_cast<uint8_t*>(data_) + begin, end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace x2v::io
