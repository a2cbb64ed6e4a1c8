#pragma once
// Caching allocator shared by every backend: freed blocks are kept and reused, so activation buffers cost
// nothing after the first step. Memory with real addresses (the host) is carved from segments and merged
// back (BlockPool: a request takes any free block large enough); opaque device handles are reused only at
// the exact rounded size. Statistics (current, peak) count the bytes
// handed out to tensors; an optional limit turns an allocation past it into a clear error.
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "platform/block_pool.h"

namespace x2v {

struct AllocatorStats {
  size_t current_bytes = 0;        // held by live tensors
  size_t peak_bytes = 0;           // maximum of current_bytes since the last reset
  size_t lifetime_peak_bytes = 0;  // maximum of current_bytes since the allocator was made
  size_t cached_bytes = 0;         // freed blocks kept for reuse
  size_t reserved_bytes = 0;       // raw memory held: live blocks, cached ones and the rest of their segments
  size_t peak_reserved_bytes = 0;  // maximum of reserved_bytes since the last reset
  size_t limit_bytes = 0;          // 0: no limit
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* pointer, size_t bytes) = 0;
  virtual AllocatorStats stats() const = 0;
  virtual void set_limit(size_t bytes) = 0;
  virtual void reset_peak() = 0;
  // Returns cached blocks to the system.
  virtual void release_cache() = 0;
};

// How freed blocks are reused: at their exact rounded size (any pointer, e.g. a device buffer handle), or
// split and merged within their segments (pointers must be addresses that can be offset).
enum class BlockReuse { exact_size, split_and_merge };

class CachingAllocator : public Allocator {
 public:
  using RawAllocate = std::function<void*(size_t)>;
  using RawFree = std::function<void(void*, size_t)>;

  // `device_name` appears in error messages. The limit starts from X2V_MEMORY_LIMIT (bytes, or with a
  // K/M/G suffix) when that is set.
  CachingAllocator(std::string device_name, RawAllocate raw_allocate, RawFree raw_free,
                   BlockReuse reuse = BlockReuse::exact_size);
  ~CachingAllocator() override;

  void* allocate(size_t bytes) override;
  void deallocate(void* pointer, size_t bytes) override;
  AllocatorStats stats() const override;
  void set_limit(size_t bytes) override;
  void reset_peak() override;
  void release_cache() override;

  // Block size reserved for a request with exact-size reuse (rounded so that reuse finds exact fits).
  static size_t rounded_size(size_t bytes);

 private:
  std::string device_name_;
  RawAllocate raw_allocate_;
  RawFree raw_free_;
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;                // exact_size: rounded size -> block
  std::unique_ptr<BlockPool> small_blocks_, large_blocks_;  // split_and_merge: below / from 1 MiB
  AllocatorStats stats_;
  size_t exact_held_bytes_ = 0;

  void* allocate_exact(size_t size);
  void update_reserved();
};

// "1.50 GiB", "12.0 MiB", "512 B"
std::string format_bytes(size_t bytes);
// Parses "1073741824", "512M", "2G", "1.5GiB"; returns false when the text is not a size.
bool parse_bytes(const std::string& text, size_t* bytes);

}  // namespace x2v
