// libFuzzer: the safetensors reader (header JSON, offsets, dtypes, shapes) on arbitrary files. Every bad file
// must be an x2v::Error; anything else (a crash, another exception, a sanitizer report) is a bug.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  x2v::fuzz::read_every_tensor(x2v::fuzz::input_file(data, size, ".safetensors"));
  return 0;
}
