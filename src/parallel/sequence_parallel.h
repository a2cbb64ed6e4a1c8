#pragma once
// Ulysses sequence parallelism (DeepSpeed-Ulysses, as LightX2V and xDiT use it): each rank of a group holds
// a contiguous share of a sequence's tokens; around self-attention an all-to-all turns "my tokens, every
// head" into "every token, my heads" and back, so each rank attends over the whole sequence for 1/P of the
// heads. Everything else (projections, norms, FFN, cross-attention on a replicated context) is per token and
// runs on the local share alone. The sequence is padded to a multiple of P; padded rows never enter the
// attention, so the result is the single-rank one.
#include <cstdint>

#include "core/tensor.h"
#include "platform/communicator.h"

namespace x2v {

struct SequenceShard {
  Communicator* group = nullptr;  // null or one rank: the whole sequence is local
  int64_t total = 0;              // real tokens of the whole sequence
  int64_t begin = 0, count = 0;   // this rank's rows [begin, begin + count) of the padded sequence

  // `total` tokens split over `group` (null: one shard of everything).
  static SequenceShard make(Communicator* group, int64_t total);
  bool active() const { return group != nullptr && group->size() > 1; }
  int64_t padded() const { return active() ? count * group->size() : total; }
  // This rank's real tokens: the first `real()` local rows (the rest are padding).
  int64_t real() const;
};

// Rows [begin, begin + count) of `full` [total, ...] (zero rows past the end), contiguous, on its device.
Tensor shard_rows(const SequenceShard& shard, const Tensor& full);
// Every rank's rows, the padding dropped: [total, ...] on every rank.
Tensor gather_rows(const SequenceShard& shard, const Tensor& local);
// [count, heads, d] (my tokens, every head) -> [total, heads / P, d] (every token, my heads).
Tensor sequence_to_heads(const SequenceShard& shard, const Tensor& local);
// The inverse: [total, heads / P, d] -> [count, heads, d] (padded rows zero).
Tensor heads_to_sequence(const SequenceShard& shard, const Tensor& heads);

}  // namespace x2v
