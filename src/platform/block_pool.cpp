#include "platform/block_pool.h"

#include "core/error.h"

namespace x2v {

BlockPool::BlockPool(RawAllocate raw_allocate, RawFree raw_free, size_t segment_granule, size_t minimum_split)
    : raw_allocate_(std::move(raw_allocate)),
      raw_free_(std::move(raw_free)),
      segment_granule_(segment_granule),
      minimum_split_(minimum_split) {}

BlockPool::~BlockPool() {
  release_free_segments();
  // Blocks still in use at destruction belong to tensors that outlived their device; their segments are
  // left to the process's end, as the exact-size cache leaves its live blocks. Only the bookkeeping goes.
  for (Block* block : free_blocks_) delete block;
  for (auto& [address, block] : used_blocks_) delete block;
}

void BlockPool::insert_free(Block* block) {
  block->free = true;
  free_blocks_.insert(block);
  free_bytes_ += block->size;
}

void BlockPool::erase_free(Block* block) {
  free_blocks_.erase(block);
  free_bytes_ -= block->size;
  block->free = false;
}

BlockPool::Block* BlockPool::new_segment(size_t size) {
  const size_t segment = (size + segment_granule_ - 1) / segment_granule_ * segment_granule_;
  void* address = raw_allocate_(segment);
  if (address == nullptr && release_free_segments() > 0) address = raw_allocate_(segment);
  if (address == nullptr) return nullptr;
  segment_bytes_ += segment;
  return new Block{static_cast<char*>(address), segment, false, nullptr, nullptr};
}

std::pair<void*, size_t> BlockPool::take(size_t size) {
  Block probe{nullptr, size, true, nullptr, nullptr};
  Block* block = nullptr;
  const auto found = free_blocks_.lower_bound(&probe);  // the smallest free block that fits
  if (found != free_blocks_.end()) {
    block = *found;
    erase_free(block);
  } else {
    // No free block fits: the wholly free segments are the wrong sizes now. Returning them before mapping a
    // new one keeps resident memory near the live peak (measured: 1.15x instead of 1.34x in a VAE decode).
    release_free_segments();
    block = new_segment(size);
    if (block == nullptr) return {nullptr, 0};
  }
  if (block->size - size >= minimum_split_) {
    Block* rest = new Block{block->address + size, block->size - size, true, block, block->next};
    if (block->next) block->next->previous = rest;
    block->next = rest;
    block->size = size;
    insert_free(rest);
  }
  used_blocks_.emplace(block->address, block);
  return {block->address, block->size};
}

size_t BlockPool::give_back(void* pointer) {
  const auto found = used_blocks_.find(pointer);
  if (found == used_blocks_.end())
    throw InternalError("allocator", "a block given back was not handed out by this pool");
  Block* block = found->second;
  used_blocks_.erase(found);
  const size_t size = block->size;
  // Merge with the free neighbours of the same segment.
  if (Block* next = block->next; next != nullptr && next->free) {
    erase_free(next);
    block->size += next->size;
    block->next = next->next;
    if (next->next) next->next->previous = block;
    delete next;
  }
  if (Block* previous = block->previous; previous != nullptr && previous->free) {
    erase_free(previous);
    previous->size += block->size;
    previous->next = block->next;
    if (block->next) block->next->previous = previous;
    delete block;
    block = previous;
  }
  insert_free(block);
  return size;
}

size_t BlockPool::release_free_segments() {
  size_t released = 0;
  for (auto it = free_blocks_.begin(); it != free_blocks_.end();) {
    Block* block = *it;
    if (block->previous != nullptr || block->next != nullptr) {
      ++it;
      continue;
    }
    it = free_blocks_.erase(it);
    free_bytes_ -= block->size;
    segment_bytes_ -= block->size;
    released += block->size;
    raw_free_(block->address, block->size);
    delete block;
  }
  return released;
}

}  // namespace x2v
