#pragma once
// Where a model's weights live while it runs, from LightX2V's keys: resident on the device (the default),
// kept on the host and streamed to the device unit by unit (cpu_offload), or read from disk unit by unit
// ahead of use (lazy_load). A unit is a block or, with offload_granularity "phase", one phase of a block.
#include <string>

#include "io/config.h"

namespace x2v {

enum class OffloadGranularity { block, phase, model };

struct OffloadOptions {
  bool cpu_offload = false;  // weights on the host, two units at a time on the device
  bool lazy_load = false;    // weights read from disk ahead of use, a bounded number at a time
  OffloadGranularity granularity = OffloadGranularity::block;
  int num_disk_workers = 4;  // threads reading the next unit's tensors

  // cpu_offload, offload_granularity, lazy_load, num_disk_workers. Throws Error for an unknown granularity
  // (the allowed values listed) and a worker count outside 1..64.
  static OffloadOptions from_config(const io::Config& config);
  // True when weights are streamed unit by unit rather than held whole on the device. `host_memory`: the
  // device computes in host memory (then cpu_offload alone has nothing to move).
  bool streams(bool host_memory) const {
    if (granularity == OffloadGranularity::model) return false;
    return lazy_load || (cpu_offload && !host_memory);
  }
  // "block offload", "phase lazy_load, 4 disk workers", "resident"
  std::string describe(bool host_memory) const;
};

const char* offload_granularity_name(OffloadGranularity granularity);

}  // namespace x2v
