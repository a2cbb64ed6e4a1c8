#pragma once
// The cpu backend's quantized matmul kernels (LightX2V's dit_quant_scheme names map onto them).
#include "platform/device.h"

namespace x2v {

// "int8-cpu": W8A8 (int8 weights, activations quantized per token), exact int8 products on AVX2.
// Aliases: int8-vllm, int8-sgl, int8-q8f, int8-triton, int8-torchao.
void register_cpu_int8_mm(KernelRegistries& kernels);
// "fp8-onednn": float8_e4m3fn weights, weight-only, dequantized tile by tile into oneDNN's f32 matmul.
// Aliases: fp8-vllm, fp8-sgl, fp8-q8f, fp8-triton.
void register_cpu_fp8_mm(KernelRegistries& kernels);

}  // namespace x2v
