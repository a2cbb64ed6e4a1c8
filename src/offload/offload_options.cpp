#include "offload/offload_options.h"

#include "core/error.h"
#include "core/text.h"

namespace x2v {

const char* offload_granularity_name(OffloadGranularity granularity) {
  switch (granularity) {
    case OffloadGranularity::block:
      return "block";
    case OffloadGranularity::phase:
      return "phase";
    case OffloadGranularity::model:
      return "model";
  }
  return "?";
}

OffloadOptions OffloadOptions::from_config(const io::Config& config) {
  OffloadOptions options;
  options.cpu_offload = config.get_bool("cpu_offload", false);
  options.lazy_load = config.get_bool("lazy_load", false);
  const std::string granularity = config.get_string("offload_granularity", "block");
  if (granularity == "block")
    options.granularity = OffloadGranularity::block;
  else if (granularity == "phase")
    options.granularity = OffloadGranularity::phase;
  else if (granularity == "model")
    options.granularity = OffloadGranularity::model;
  else
    throw Error("config", concat("offload_granularity '", granularity,
                                 "' is not one of block, phase, model (in ", config.source(), ")"));
  const int64_t workers = config.get_int("num_disk_workers", 4);
  if (workers < 1 || workers > 64)
    throw Error("config",
                concat("num_disk_workers ", workers, " is not in 1..64 (in ", config.source(), ")"));
  options.num_disk_workers = static_cast<int>(workers);
  if (options.lazy_load && options.granularity == OffloadGranularity::model)
    throw Error("config", concat("lazy_load streams the DiT block by block or phase by phase; set ",
                                 "offload_granularity to block or phase (in ", config.source(), ")"));
  return options;
}

std::string OffloadOptions::describe(bool host_memory) const {
  if (!streams(host_memory)) return "resident";
  if (lazy_load)
    return concat(offload_granularity_name(granularity), " lazy_load, ", num_disk_workers, " disk worker",
                  num_disk_workers == 1 ? "" : "s");
  return concat(offload_granularity_name(granularity), " offload");
}

}  // namespace x2v
