#pragma once
// Segments of raw memory carved into blocks: a request takes the smallest free block that fits (splitting
// off the rest), and a freed block merges with free neighbours of its segment. Reuse then does not need a
// freed block of the exact same size, so memory held approaches the live peak even when sizes change from
// step to step (a VAE's frames, a DiT's varying token counts). Only for memory whose addresses can be
// offset (host memory, the vulkan device's own address space); a device handing out opaque handles (a
// plugin's) keeps exact-size reuse (allocator.h).
#include <cstddef>
#include <functional>
#include <set>
#include <unordered_map>
#include <utility>

namespace x2v {

class BlockPool {
 public:
  using RawAllocate = std::function<void*(size_t)>;
  using RawFree = std::function<void(void*, size_t)>;

  // `segment_granule`: new segments are the request rounded up to it; `minimum_split`: a remainder below
  // it stays with the block handed out rather than becoming a free block of its own.
  BlockPool(RawAllocate raw_allocate, RawFree raw_free, size_t segment_granule, size_t minimum_split);
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // A block of at least `size` bytes (a multiple of 512): its address and actual size. {nullptr, 0} when
  // the raw allocation fails even after the wholly free segments went back.
  std::pair<void*, size_t> take(size_t size);
  // Returns a block from take(); its size. InternalError for an address this pool did not hand out.
  size_t give_back(void* pointer);
  // Frees every segment that is wholly free; the bytes returned.
  size_t release_free_segments();
  // Free bytes kept inside the segments.
  size_t free_bytes() const { return free_bytes_; }
  // Bytes of all segments.
  size_t segment_bytes() const { return segment_bytes_; }

 private:
  struct Block {
    char* address;
    size_t size;
    bool free;
    Block* previous;  // neighbours within the same segment; null at its ends
    Block* next;
  };

  Block* new_segment(size_t size);
  void insert_free(Block* block);
  void erase_free(Block* block);

  RawAllocate raw_allocate_;
  RawFree raw_free_;
  size_t segment_granule_, minimum_split_;
  struct BySizeThenAddress {
    bool operator()(const Block* a, const Block* b) const {
      return a->size != b->size ? a->size < b->size : a->address < b->address;
    }
  };
  std::set<Block*, BySizeThenAddress> free_blocks_;
  std::unordered_map<void*, Block*> used_blocks_;
  size_t free_bytes_ = 0, segment_bytes_ = 0;
};

}  // namespace x2v
