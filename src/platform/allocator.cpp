#include "platform/allocator.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "core/error.h"
#include "core/log.h"

namespace x2v {

std::string format_bytes(size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  if (unit == 0)
    std::snprintf(text, sizeof(text), "%zu B", bytes);
  else
    std::snprintf(text, sizeof(text), "%.2f %s", value, units[unit]);
  return text;
}

bool parse_bytes(const std::string& text, size_t* bytes) {
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || number < 0 || !std::isfinite(number)) return false;
  std::string suffix(end);
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double scale = 1;
  if (suffix.empty() || suffix == "B")
    scale = 1;
  else if (suffix == "K" || suffix == "KB" || suffix == "KIB")
    scale = 1024.0;
  else if (suffix == "M" || suffix == "MB" || suffix == "MIB")
    scale = 1024.0 * 1024.0;
  else if (suffix == "G" || suffix == "GB" || suffix == "GIB")
    scale = 1024.0 * 1024.0 * 1024.0;
  else
    return false;
  *bytes = static_cast<size_t>(number * scale);
  return true;
}

namespace {
constexpr size_t kLargeRequest = size_t{1} << 20;
constexpr size_t kSegmentGranule = size_t{2} << 20;

// Pooled: small requests round to 512 bytes, large ones to pages (the pool may hand out a little more).
size_t pooled_size(size_t bytes) {
  return bytes < kLargeRequest ? std::max<size_t>((bytes + 511) / 512 * 512, 512)
                               : (bytes + 4095) / 4096 * 4096;
}
}  // namespace

CachingAllocator::CachingAllocator(std::string device_name, RawAllocate raw_allocate, RawFree raw_free,
                                   BlockReuse reuse)
    : device_name_(std::move(device_name)),
      raw_allocate_(std::move(raw_allocate)),
      raw_free_(std::move(raw_free)) {
  if (reuse == BlockReuse::split_and_merge) {
    // Small blocks share 2 MiB segments; large ones get their own, split when the rest is 1 MiB or more.
    small_blocks_ = std::make_unique<BlockPool>(raw_allocate_, raw_free_, kSegmentGranule, 512);
    large_blocks_ = std::make_unique<BlockPool>(raw_allocate_, raw_free_, kSegmentGranule, kLargeRequest);
  }
  if (const char* limit = std::getenv("X2V_MEMORY_LIMIT")) {
    size_t bytes = 0;
    if (!parse_bytes(limit, &bytes))
      throw Error("allocator",
                  concat("X2V_MEMORY_LIMIT='", limit, "' is not a size; use bytes or a K/M/G suffix"));
    stats_.limit_bytes = bytes;
  }
}

CachingAllocator::~CachingAllocator() {
  release_cache();
}

size_t CachingAllocator::rounded_size(size_t bytes) {
  // Small blocks round to 512 bytes, large ones to 2 MiB, so reuse across steps finds exact fits.
  if (bytes == 0) return 512;
  if (bytes < (1u << 20)) return (bytes + 511) / 512 * 512;
  const size_t granule = size_t{2} << 20;
  return (bytes + granule - 1) / granule * granule;
}

void* CachingAllocator::allocate(size_t bytes) {
  const bool pooled = small_blocks_ != nullptr;
  size_t size = pooled ? pooled_size(bytes) : rounded_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  if (stats_.limit_bytes && stats_.current_bytes + size > stats_.limit_bytes) {
    throw Error("allocator", concat(device_name_, ": allocating ", format_bytes(bytes), " with ",
                                    format_bytes(stats_.current_bytes), " in use would pass the limit of ",
                                    format_bytes(stats_.limit_bytes),
                                    "; raise X2V_MEMORY_LIMIT or reduce the work (smaller size, offload)"));
  }
  void* pointer = nullptr;
  if (pooled) {
    BlockPool& pool = size < kLargeRequest ? *small_blocks_ : *large_blocks_;
    auto [block, block_size] = pool.take(size);
    if (block == nullptr) {  // the other pool's wholly free segments may make room
      (size < kLargeRequest ? *large_blocks_ : *small_blocks_).release_free_segments();
      std::tie(block, block_size) = pool.take(size);
    }
    if (block == nullptr)
      throw Error("allocator",
                  concat(device_name_, ": out of memory allocating ", format_bytes(bytes), " with ",
                         format_bytes(stats_.current_bytes), " in use; reduce the work or enable offload"));
    pointer = block;
    size = block_size;
    stats_.cached_bytes = small_blocks_->free_bytes() + large_blocks_->free_bytes();
  } else {
    pointer = allocate_exact(size);
  }
  stats_.current_bytes += size;
  if (stats_.current_bytes > stats_.peak_bytes) stats_.peak_bytes = stats_.current_bytes;
  stats_.lifetime_peak_bytes = std::max(stats_.lifetime_peak_bytes, stats_.peak_bytes);
  update_reserved();
  return pointer;
}

void* CachingAllocator::allocate_exact(size_t size) {
  void* pointer = nullptr;
  auto found = free_blocks_.find(size);
  if (found != free_blocks_.end()) {
    pointer = found->second;
    free_blocks_.erase(found);
    stats_.cached_bytes -= size;
  } else {
    pointer = raw_allocate_(size);
    if (pointer == nullptr && !free_blocks_.empty()) {
      for (auto& [block_size, block] : free_blocks_) {
        raw_free_(block, block_size);
        exact_held_bytes_ -= block_size;
      }
      free_blocks_.clear();
      stats_.cached_bytes = 0;
      pointer = raw_allocate_(size);
    }
    if (pointer == nullptr) {
      throw Error("allocator",
                  concat(device_name_, ": out of memory allocating ", format_bytes(size), " with ",
                         format_bytes(stats_.current_bytes), " in use; reduce the work or enable offload"));
    }
    exact_held_bytes_ += size;
  }
  return pointer;
}

void CachingAllocator::deallocate(void* pointer, size_t bytes) {
  if (pointer == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (small_blocks_) {
    const size_t size =
        (pooled_size(bytes) < kLargeRequest ? *small_blocks_ : *large_blocks_).give_back(pointer);
    stats_.current_bytes -= size;
    stats_.cached_bytes = small_blocks_->free_bytes() + large_blocks_->free_bytes();
    return;
  }
  const size_t size = rounded_size(bytes);
  stats_.current_bytes -= size;
  free_blocks_.emplace(size, pointer);
  stats_.cached_bytes += size;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::set_limit(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.limit_bytes = bytes;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes = stats_.current_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

void CachingAllocator::update_reserved() {
  stats_.reserved_bytes =
      small_blocks_ ? small_blocks_->segment_bytes() + large_blocks_->segment_bytes() : exact_held_bytes_;
  stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
}

void CachingAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (small_blocks_) {
    small_blocks_->release_free_segments();
    large_blocks_->release_free_segments();
    stats_.cached_bytes = small_blocks_->free_bytes() + large_blocks_->free_bytes();
    update_reserved();
    return;
  }
  for (auto& [size, block] : free_blocks_) {
    raw_free_(block, size);
    exact_held_bytes_ -= size;
  }
  free_blocks_.clear();
  stats_.cached_bytes = 0;
  update_reserved();
}

}  // namespace x2v
