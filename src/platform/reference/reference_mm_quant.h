#pragma once
// The portable reference of the quantized matmuls: LightX2V's math computed as fake quantization (values
// dequantized to f32, products summed in fp64). Every backend's quantized kernel is checked against it.
#include "platform/device.h"

namespace x2v {

namespace reference {
// W8A8: each row of x quantized per token (quantize_row_int8) and dequantized in f32, times the
// dequantized weight, plus bias.
void mm_int8(const Tensor& x, const QuantizedWeight& weight, const Tensor& bias, Tensor& y);
// Weight-only: x times the dequantized weight, plus bias (the fp8 schemes on CPUs, which have no fp8
// arithmetic).
void mm_weight_only(const Tensor& x, const QuantizedWeight& weight, const Tensor& bias, Tensor& y);
}  // namespace reference

// Registers "int8-torch" and "fp8-torch" (called by register_reference_kernels).
void register_reference_quant_kernels(KernelRegistries& kernels);

}  // namespace x2v
