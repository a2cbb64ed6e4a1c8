#pragma once
// Weight quantization as LightX2V's converter (tools/convert, --quantized) and its weight_auto_quant do
// it, computed in f32 from the weight's values: symmetric per output channel, amax = max |w[o, :]|
// clamped to at least 1e-5 (an all-zero row quantizes to zeros),
//   int8: scale = amax / 127, q = round_half_even(w / scale) clamped to [-128, 127];
//   fp8:  scale = amax / 448, q = float8_e4m3fn(clamp(w / scale, -448, 448)) (round to nearest even).
// The result is LightX2V's layout: q [out, in] and scale f32 [out, 1].
#include "platform/ops/mm.h"

namespace x2v {

// `weight` [out, in] of f32, bf16 or f16 in host memory (any strides). Throws Error for NaN or
// infinite values (they have no quantized form) and for an unquantized `format`.
QuantizedWeight quantize_weight(const Tensor& weight, QuantFormat format);

// weight[o, i] * scale[o] computed in f32: the fake-quantized weight, f32 [out, in] on the host.
Tensor dequantize_weight(const QuantizedWeight& weight);

}  // namespace x2v
