// libFuzzer: JSON configs as x2v reads them: the parser (duplicate keys, nesting), every typed getter, the
// key accounting (LightX2V's keys, nearest names) and the offload options.
#include "core/error.h"
#include "io/config.h"
#include "offload/offload_options.h"
#include "pipeline/config_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    std::vector<std::string> duplicates;
    nlohmann::json values = x2v::io::parse_json_text(text, "fuzz.json", &duplicates);
    if (!values.is_object()) return 0;
    const x2v::io::Config config(std::move(values), "fuzz.json");
    x2v::config_key_problems(config);
    for (auto item = config.json().begin(); item != config.json().end(); ++item) {
      const std::string key = item.key();
      for (int getter = 0; getter < 6; ++getter) {
        try {
          switch (getter) {
            case 0:
              config.get_int(key, 0);
              break;
            case 1:
              config.get_double(key, 0.0);
              break;
            case 2:
              config.get_bool(key, false);
              break;
            case 3:
              config.get_string(key, "");
              break;
            case 4:
              config.get_int_list(key, {});
              break;
            case 5:
              if (item.value().is_object()) config.section(key);
              break;
          }
        } catch (const x2v::Error&) {
        }
      }
    }
    x2v::OffloadOptions::from_config(config);
  } catch (const x2v::Error&) {
  }
  return 0;
}
