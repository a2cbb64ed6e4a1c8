#include "quant/quantized_linear.h"

#include "platform/ops.h"
#include "quant/quantize.h"

namespace x2v {

QuantizedLinearRequest quantized_linear_request(const std::string& weight_name, const Shape& shape,
                                                QuantFormat format, const std::string& scheme,
                                                const std::string& model_key, const std::string& place,
                                                bool auto_quant) {
  QuantizedLinearRequest request;
  request.weight_name = weight_name;
  request.scale_name = weight_name + "_scale";
  request.shape = shape;
  request.format = format;
  request.scheme = scheme;
  request.scheme_key = model_key + "_quant_scheme";
  request.checkpoint_key = model_key + "_quantized_ckpt";
  request.place = place;
  request.auto_quant = auto_quant;
  return request;
}

QuantizedWeight read_quantized_linear(const io::Checkpoint& checkpoint, const QuantizedLinearRequest& request,
                                      Device& device) {
  const std::string& weight_name = request.weight_name;
  const std::string& scale_name = request.scale_name;
  const Shape& expected = request.shape;
  const io::TensorInfo info = checkpoint.info(weight_name);
  const QuantFormat stored = info.dtype ? quant_format_of(*info.dtype) : QuantFormat::none;
  const char* wanted = request.format == QuantFormat::int8 ? "int8" : "fp8 (float8_e4m3fn)";
  if (stored == QuantFormat::none) {
    if (!request.auto_quant)
      throw Error(request.place,
                  concat("tensor '", weight_name, "' is ", info.dtype_label(), ", not ", wanted, ": ",
                         checkpoint.path(), " is not a quantized checkpoint for ", request.scheme_key, " '",
                         request.scheme, "'; set weight_auto_quant to quantize at load, or ",
                         request.checkpoint_key, " to an ", quant_format_name(request.format), " export"));
    Tensor weight = checkpoint.load(weight_name);
    if (request.adjust_float) weight = request.adjust_float(weight);
    if (weight.dtype() != DType::f32 && weight.dtype() != DType::bf16 && weight.dtype() != DType::f16)
      weight = weight.to_host(DType::f32);
    const QuantizedWeight quantized = quantize_weight(weight, request.format);
    weight = Tensor();
    // The float pages are not needed again: without this, the whole float model stays resident beside
    // its quantized copy and int8 would cost more memory than the float model it shrinks.
    checkpoint.release(weight_name);
    return {ops::to_device(quantized.weight, device), ops::to_device(quantized.scale, device)};
  }
  if (stored != request.format)
    throw Error(request.place, concat("tensor '", weight_name, "' is ", quant_format_name(stored), " but ",
                                      request.scheme_key, " '", request.scheme, "' takes ", wanted,
                                      " weights; use an ", quant_format_name(stored), " scheme (",
                                      quant_format_name(stored), "-vllm, ...) for ", checkpoint.path()));
  if (!checkpoint.contains(scale_name))
    throw Error(request.place,
                concat("tensor '", scale_name, "' is missing: the quantized weight '", weight_name,
                       "' needs its per-channel scale [", expected[0], ", 1] (LightX2V's layout)"));
  const io::TensorInfo scale_info = checkpoint.info(scale_name);
  const Shape& scale_shape = scale_info.shape;
  const bool scale_fits = scale_shape == Shape{expected[0], 1} || scale_shape == Shape{expected[0]};
  if (!scale_fits || !scale_info.dtype || !is_floating(*scale_info.dtype))
    throw Error(request.place, concat("tensor '", scale_name, "' is ", scale_info.dtype_label(),
                                      shape_to_string(scale_shape), "; expected a float [", expected[0],
                                      ", 1] (one scale per output channel of '", weight_name, "')"));
  Tensor scale = checkpoint.load(scale_name, DType::f32).reshape({expected[0], 1});
  return {ops::to_device(checkpoint.load(weight_name), device), ops::to_device(scale, device)};
}

}  // namespace x2v
