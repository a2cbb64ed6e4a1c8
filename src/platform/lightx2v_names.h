#pragma once
// LightX2V's kernel names, in one table for every platform. A LightX2V name stands for "this category's
// math, computed exactly", plus a weight format for the quantized mm schemes; a registry resolves it to its
// own default kernel of that format, so no backend lists LightX2V's names itself.
#include <string>
#include <vector>

#include "platform/ops/mm.h"

namespace x2v {

struct LightX2VKernelName {
  std::string category;  // "attention", "mm", ... as KernelRegistry::category()
  std::string name;      // "flash_attn3", "int8-vllm", ...
  QuantFormat quant;     // mm: the weight format the scheme stores; none elsewhere
};

const std::vector<LightX2VKernelName>& lightx2v_kernel_names();
// The entry of `name` in `category`, or nullptr.
const LightX2VKernelName* find_lightx2v_kernel_name(const std::string& category, const std::string& name);

}  // namespace x2v
