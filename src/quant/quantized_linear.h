#pragma once
// Reading one quantized linear from a checkpoint in LightX2V's layout (`<name>.weight` int8 or
// float8_e4m3fn [out, in], `<name>.weight_scale` [out, 1]), shared by every model that quantizes its
// linears (the Wan DiT, the umT5 encoder), with the errors a user needs when the file does not fit the
// config: a float weight without weight_auto_quant, the other format, a missing or misshaped scale.
#include <functional>
#include <string>

#include "io/checkpoint.h"
#include "platform/ops/mm.h"

namespace x2v {

struct QuantizedLinearRequest {
  std::string weight_name;  // the names in the file
  std::string scale_name;
  Shape shape;  // [out, in] the model expects
  QuantFormat format = QuantFormat::int8;
  std::string scheme;          // the config's scheme value, for messages ("int8-vllm")
  std::string scheme_key;      // the config key that chose it ("dit_quant_scheme", "t5_quant_scheme")
  std::string place;           // where errors come from ("wan dit", "t5")
  std::string checkpoint_key;  // the config key naming a quantized file ("dit_quantized_ckpt")
  // weight_auto_quant: a float weight is quantized here; otherwise it is an Error.
  bool auto_quant = false;
  // Applied to a float weight before it is quantized (LoRA merging); may be empty.
  std::function<Tensor(const Tensor&)> adjust_float;
};

// The request for linear weight `weight_name` (its scale `weight_name` + "_scale") of the model whose config
// keys start with `model_key` ("dit", "t5", "clip": <model_key>_quant_scheme, <model_key>_quantized_ckpt).
QuantizedLinearRequest quantized_linear_request(const std::string& weight_name, const Shape& shape,
                                                QuantFormat format, const std::string& scheme,
                                                const std::string& model_key, const std::string& place,
                                                bool auto_quant);

// The weight and its f32 [out, 1] scale on `device`. Errors name the tensor, the file and the fix.
// The weight's presence and shape are the caller's to check (it knows what the model needs it for).
QuantizedWeight read_quantized_linear(const io::Checkpoint& checkpoint, const QuantizedLinearRequest& request,
                                      Device& device);

}  // namespace x2v
