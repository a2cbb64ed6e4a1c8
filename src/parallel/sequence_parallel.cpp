#include "parallel/sequence_parallel.h"

#include <algorithm>

#include "core/error.h"
#include "platform/collectives.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {

SequenceShard SequenceShard::make(Communicator* group, int64_t total) {
  SequenceShard shard;
  shard.group = group;
  shard.total = total;
  if (!shard.active()) {
    shard.count = total;
    return shard;
  }
  const int64_t ranks = group->size();
  shard.count = (total + ranks - 1) / ranks;
  shard.begin = shard.count * group->rank();
  return shard;
}

int64_t SequenceShard::real() const {
  return std::clamp<int64_t>(total - begin, 0, count);
}

Tensor shard_rows(const SequenceShard& shard, const Tensor& full) {
  if (!shard.active()) return ops::contiguous(full);
  Shape shape = full.shape();
  shape[0] = shard.count;
  Tensor local = empty(shape, full.dtype(), device_of(full));
  const int64_t real = shard.real();
  if (real < shard.count) {
    Tensor padding = local.slice(0, real, shard.count);
    ops::fill(padding, 0.0f);
  }
  if (real > 0) {
    Tensor rows = local.slice(0, 0, real);
    ops::copy(full.slice(0, shard.begin, shard.begin + real), rows);
  }
  return local;
}

Tensor gather_rows(const SequenceShard& shard, const Tensor& local) {
  if (!shard.active()) return local;
  const std::vector<Shape> shapes(shard.group->size(), local.shape());
  const std::vector<Tensor> parts = collectives::all_gather(*shard.group, local, shapes);
  Shape shape = local.shape();
  shape[0] = shard.total;
  Tensor full = empty(shape, local.dtype(), device_of(local));
  int64_t row = 0;
  for (const Tensor& part : parts) {
    const int64_t rows = std::min(part.size(0), shard.total - row);
    if (rows <= 0) break;
    Tensor target = full.slice(0, row, row + rows);
    ops::copy(part.slice(0, 0, rows), target);
    row += rows;
  }
  return full;
}

namespace {

int64_t local_heads(const SequenceShard& shard, int64_t heads) {
  const int64_t ranks = shard.group->size();
  if (heads % ranks != 0)
    throw Error("sequence parallel", concat(heads, " attention heads do not split over seq_p_size ", ranks));
  return heads / ranks;
}

}  // namespace

Tensor sequence_to_heads(const SequenceShard& shard, const Tensor& local) {
  if (!shard.active()) return local;
  const int64_t ranks = shard.group->size(), heads = local.size(1), d = local.size(2);
  const int64_t mine = local_heads(shard, heads);
  // Block r of the send buffer: my tokens, rank r's heads.
  Tensor send = empty({ranks, shard.count, mine, d}, local.dtype(), device_of(local));
  ops::copy(local.reshape({shard.count, ranks, mine, d}).permute({1, 0, 2, 3}), send);
  // Block r of what comes back: rank r's tokens, my heads, which in rank order is the padded sequence.
  const Tensor received = collectives::all_to_all(*shard.group, send.reshape({ranks * shard.count, mine, d}));
  return received.slice(0, 0, shard.total);
}

Tensor heads_to_sequence(const SequenceShard& shard, const Tensor& heads) {
  if (!shard.active()) return heads;
  const int64_t ranks = shard.group->size(), mine = heads.size(1), d = heads.size(2);
  Tensor send = empty({ranks * shard.count, mine, d}, heads.dtype(), device_of(heads));
  if (shard.padded() > shard.total) {
    Tensor padding = send.slice(0, shard.total, shard.padded());
    ops::fill(padding, 0.0f);
  }
  Tensor rows = send.slice(0, 0, shard.total);
  ops::copy(heads, rows);
  // Block r comes from rank r: my tokens, its heads; heads in rank order make the full head dimension.
  const Tensor received = collectives::all_to_all(*shard.group, send);
  Tensor local = empty({shard.count, ranks * mine, d}, heads.dtype(), device_of(heads));
  Tensor target = local.reshape({shard.count, ranks, mine, d});
  ops::copy(received.reshape({ranks, shard.count, mine, d}).permute({1, 0, 2, 3}), target);
  return local;
}

}  // namespace x2v
