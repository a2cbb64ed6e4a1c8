// libFuzzer: PyTorch .pth files: the zip reader (zip64 included) and the restricted unpickler.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  x2v::fuzz::read_every_tensor(x2v::fuzz::input_file(data, size, ".pth"));
  return 0;
}
