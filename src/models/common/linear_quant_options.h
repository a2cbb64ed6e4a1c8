#pragma once
// How an encoder's quantizable linears run (LightX2V's t5_quantized / clip_quantized with their schemes): the
// kernel or scheme, and whether float weights are quantized at load.
#include <string>

namespace x2v {

struct LinearQuantOptions {
  // An mm kernel name or LightX2V scheme ("" = the platform's default). A quantized scheme ("int8-vllm",
  // "fp8-sgl", ...) reads `<name>.weight` int8/float8_e4m3fn + `<name>.weight_scale` from the checkpoint.
  std::string scheme;
  // weight_auto_quant: a quantized scheme quantizes float weights at load instead of requiring them stored
  // quantized.
  bool auto_quant = false;
};

}  // namespace x2v
