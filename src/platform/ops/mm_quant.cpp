// The quantization part of the mm template: format names, the checks of LightX2V's quantized weight
// layout shared by every backend, and the per-token activation quantization every W8A8 kernel must match.
#include <cmath>

#include "platform/ops/mm.h"

namespace x2v {

const char* quant_format_name(QuantFormat format) {
  switch (format) {
    case QuantFormat::none:
      return "none";
    case QuantFormat::int8:
      return "int8";
    case QuantFormat::fp8_e4m3:
      return "fp8";
  }
  return "?";
}

DType quant_storage_dtype(QuantFormat format) {
  switch (format) {
    case QuantFormat::int8:
      return DType::i8;
    case QuantFormat::fp8_e4m3:
      return DType::f8_e4m3;
    case QuantFormat::none:
      break;
  }
  throw InternalError("mm", "quant_storage_dtype of an unquantized format");
}

QuantFormat quant_format_of(DType dtype) {
  if (dtype == DType::i8) return QuantFormat::int8;
  if (dtype == DType::f8_e4m3) return QuantFormat::fp8_e4m3;
  return QuantFormat::none;
}

void MatmulKernel::load_quantized(const QuantizedWeight& weight, const Tensor&) {
  throw Error("mm", concat("this mm kernel takes unquantized (f32, bf16, f16) weights, not the ",
                           quant_format_name(weight.format()), " weight ", weight.weight.describe(),
                           "; pick a quantized kernel (dit_quant_scheme int8-... or fp8-...)"));
}

void MatmulKernel::check_quantized_weights(const QuantizedWeight& quantized, const Tensor& bias,
                                           QuantFormat expected) {
  const Tensor& weight = quantized.weight;
  const char* wanted = expected == QuantFormat::int8 ? "int8" : "fp8 (float8_e4m3fn)";
  if (!weight.defined() || weight.ndim() != 2)
    throw Error("mm",
                concat("quantized weight is ", weight.describe(), "; expected [out_features, in_features]"));
  const QuantFormat format = quantized.format();
  if (format != expected) {
    if (format == QuantFormat::none)
      throw Error("mm",
                  concat("weight ", weight.describe(), " is not quantized; this kernel takes ", wanted,
                         " weights with per-channel scales (quantize it first, e.g. weight_auto_quant)"));
    throw Error("mm",
                concat("weight ", weight.describe(), " is ", quant_format_name(format),
                       " but this kernel takes ", wanted, " weights; pick an ", quant_format_name(format),
                       " scheme (", quant_format_name(format), "-...) for this checkpoint"));
  }
  const int64_t out = weight.size(0);
  const Tensor& scale = quantized.scale;
  if (!scale.defined())
    throw Error("mm", concat("the per-channel scale of quantized weight ", weight.describe(), " is missing"));
  const bool scale_shape_ok = (scale.ndim() == 2 && scale.size(0) == out && scale.size(1) == 1) ||
                              (scale.ndim() == 1 && scale.size(0) == out);
  if (!scale_shape_ok || scale.dtype() != DType::f32)
    throw Error("mm", concat("weight scale is ", scale.describe(), "; expected f32[", out,
                             ", 1] (one per output ", "channel of weight ", weight.describe(), ")"));
  if (scale.is_host_accessible()) {
    for (float value : scale.to_floats())
      if (!std::isfinite(value) || value < 0.0f)
        throw Error("mm", concat("weight scale of ", weight.describe(), " holds ", value,
                                 "; scales must be finite and non-negative"));
  }
  check_weights(weight, bias);
}

float quantize_row_int8(const float* x, int64_t count, int8_t* q) {
  float amax = 0.0f;
  bool finite = true;
  for (int64_t i = 0; i < count; ++i) {
    amax = std::max(amax, std::fabs(x[i]));
    finite = finite && std::isfinite(x[i]);
  }
  // A non-finite row gives NaN outputs (scale NaN) rather than integers made of NaN.
  if (!finite || amax == 0.0f) {
    for (int64_t i = 0; i < count; ++i) q[i] = 0;
    return finite ? 0.0f : NAN;
  }
  const float scale = amax / 127.0f;
  for (int64_t i = 0; i < count; ++i) {
    const float rounded = std::nearbyint(x[i] / scale);  // ties to even, as torch.round
    q[i] = static_cast<int8_t>(std::min(127.0f, std::max(-128.0f, rounded)));
  }
  return scale;
}

}  // namespace x2v
