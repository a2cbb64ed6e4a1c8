// libFuzzer: the safetensors reader (header JSON, offsets, dtypes, shapes) on arbitrary files. Every bad file
// must be an x2v::Error; anything else (a crash, another exception, a sanitizer report) is a bug.
#include "core/error.h"
#include "fuzz_common.h"
#include "io/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = x2v::fuzz::input_file(data, size, ".safetensors");
  try {
    const auto checkpoint = x2v::io::open_checkpoint(path);
    for (const std::string& name : checkpoint->names()) {
      checkpoint->info(name);
      checkpoint->load(name).to_floats();
    }
  } catch (const x2v::Error&) {
  }
  return 0;
}
