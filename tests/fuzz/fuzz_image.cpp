// libFuzzer: image decoding (PNG and JPEG through FFmpeg's decoders, as --image_path and uploads read them).
#include "core/error.h"
#include "fuzz_common.h"
#include "io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool jpeg = size >= 2 && data[0] == 0xff && data[1] == 0xd8;
  const std::string path = x2v::fuzz::input_file(data, size, jpeg ? ".jpg" : ".png");
  try {
    x2v::io::read_image(path);
  } catch (const x2v::Error&) {
  }
  return 0;
}
