#pragma once
// Caching allocator shared by every backend: freed blocks are kept and reused (the best fit within 1/8 of
// the request), so activation buffers cost nothing after the first step. The cache never makes the memory
// held (live + cached) exceed the highest live total seen so far: a request the cache cannot serve first
// returns the longest-unused cached blocks. Statistics (current, peak) count the bytes of the blocks
// handed out; an optional limit turns an allocation past it into a clear error.
#include <cstddef>
#include <functional>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace x2v {

struct AllocatorStats {
  size_t current_bytes = 0;  // held by live tensors
  size_t peak_bytes = 0;     // maximum of current_bytes since the last reset
  size_t cached_bytes = 0;   // freed blocks kept for reuse
  size_t limit_bytes = 0;    // 0: no limit
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

class CachingAllocator : public Allocator {
 public:
  using RawAllocate = std::function<void*(size_t)>;
  using RawFree = std::function<void(void*, size_t)>;

  // `device_name` appears in error messages. The limit starts from X2V_MEMORY_LIMIT (bytes, or with a
  // K/M/G suffix) when that is set.
  CachingAllocator(std::string device_name, RawAllocate raw_allocate, RawFree raw_free);
  ~CachingAllocator() override;

  void* allocate(size_t bytes) override;
  void deallocate(void* pointer, size_t bytes) override;
  AllocatorStats stats() const override;
  void set_limit(size_t bytes) override;
  void reset_peak() override;
  void release_cache() override;

  // Block size reserved for a request (requests are rounded to reduce fragmentation); a reused block may
  // be up to 1/8 larger.
  static size_t rounded_size(size_t bytes);

 private:
  struct CachedBlock {
    void* pointer;
    uint64_t freed_at;  // order of deallocation: the oldest goes first
  };

  // Returns the longest-unused cached blocks until `needed` more bytes fit under the high-water mark.
  void trim_cache_for(size_t needed);

  std::string device_name_;
  RawAllocate raw_allocate_;
  RawFree raw_free_;
  mutable std::mutex mutex_;
  std::multimap<size_t, CachedBlock> free_blocks_;  // block size -> block
  std::unordered_map<void*, size_t> live_blocks_;   // block -> its size (may exceed the request)
  uint64_t deallocations_ = 0;
  size_t high_water_bytes_ = 0;  // the highest current_bytes ever (not reset by reset_peak)
  AllocatorStats stats_;
};

// "1.50 GiB", "12.0 MiB", "512 B"
std::string format_bytes(size_t bytes);
// Parses "1073741824", "512M", "2G", "1.5GiB"; returns false when the text is not a size.
bool parse_bytes(const std::string& text, size_t* bytes);

}  // namespace x2v
