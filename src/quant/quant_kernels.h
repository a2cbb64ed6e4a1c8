#pragma once
// Quantized mm kernels by the names configs use (LightX2V's dit_quant_scheme / t5_quant_scheme values,
// or x2v's own kernel names), on whatever platform is selected.
#include <string>
#include <vector>

#include "platform/device.h"

namespace x2v {

// The weight format the mm kernel `name` takes on `device`: none for kernels of unquantized weights
// ("" and "Default" among them), int8 or fp8_e4m3 for quantized ones. Throws Error naming `config_key`
// and `name` and listing the schemes the platform has when `name` is not one of them (nvfp4, gguf-*, ...).
QuantFormat mm_kernel_format(Device& device, const std::string& name, const std::string& config_key);

// Kernel names and aliases of `device`'s mm registry whose kernel takes quantized weights, sorted.
std::vector<std::string> quantized_mm_names(Device& device);

}  // namespace x2v
