// libFuzzer: JSON configs as x2v reads them: the parser (duplicate keys), the key accounting, and the option
// readers of sampling, caching, offload and parallel runs.
#include "core/error.h"
#include "io/config.h"
#include "offload/offload_options.h"
#include "parallel/parallel_plan.h"
#include "pipeline/config_keys.h"
#include "pipeline/wan_sampling.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    std::vector<std::string> duplicates;
    nlohmann::json values = x2v::io::parse_json_text(text, "fuzz.json", &duplicates);
    if (!values.is_object()) return 0;
    const x2v::io::Config config(std::move(values), "fuzz.json");
    x2v::config_key_problems(config);
    std::vector<std::string> warnings;
    x2v::ParallelOptions::from_config(config, &warnings).describe();
    x2v::OffloadOptions::from_config(config);
    x2v::WanSamplingOptions::from_config(config);
  } catch (const x2v::Error&) {
  }
  return 0;
}
