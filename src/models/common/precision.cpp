#include "models/common/precision.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace x2v {
namespace {

DType parse_precision(const char* variable, const char* value) {
  std::string text = value;
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  if (text == "BF16" || text == "BFLOAT16") return DType::bf16;
  if (text == "FP16" || text == "F16" || text == "FLOAT16") return DType::f16;
  if (text == "FP32" || text == "F32" || text == "FLOAT32") return DType::f32;
  const bool eight_bit = text.find('8') != std::string::npos;
  throw Error(
      "precision",
      concat(variable, "='", value, "' is not one of BF16, FP16, FP32",
             eight_bit ? "; for fp8 or int8 weights set dit_quant_scheme (e.g. fp8-sgl) in the config" : ""));
}

}  // namespace

Precision Precision::from_environment() {
  Precision precision;
  if (const char* value = std::getenv("DTYPE"); value && *value)
    precision.compute = parse_precision("DTYPE", value);
  precision.sensitive = precision.compute;
  if (const char* value = std::getenv("SENSITIVE_LAYER_DTYPE");
      value && *value && std::string(value) != "None")
    precision.sensitive = parse_precision("SENSITIVE_LAYER_DTYPE", value);
  return precision;
}

}  // namespace x2v
