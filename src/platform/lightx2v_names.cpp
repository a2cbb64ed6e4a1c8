#include "platform/lightx2v_names.h"

namespace x2v {

const std::vector<LightX2VKernelName>& lightx2v_kernel_names() {
  static const std::vector<LightX2VKernelName> names = [] {
    std::vector<LightX2VKernelName> table;
    auto add = [&](const char* category, std::initializer_list<const char*> names,
                   QuantFormat quant = QuantFormat::none) {
      for (const char* name : names) table.push_back({category, name, quant});
    };
    // Exact attention implementations (sparse or approximate ones, e.g. radial_attn, have no equivalent).
    add("attention", {"flash_attn2", "flash_attn3", "sage_attn2", "torch_sdpa"});
    // dit_quant_scheme / t5_quant_scheme: Default is unquantized; the W8A8 and fp8 schemes of other chips'
    // kernels compute the same math from the same weights.
    add("mm", {"Default"});
    add("mm", {"int8-vllm", "int8-sgl", "int8-q8f", "int8-triton", "int8-torchao"}, QuantFormat::int8);
    add("mm", {"fp8-vllm", "fp8-sgl", "fp8-q8f", "fp8-triton"}, QuantFormat::fp8_e4m3);
    add("rms_norm", {"sgl-kernel", "fp32_variance"});
    add("layer_norm", {"Triton"});
    add("rope", {"torch_complex_rope", "torch_real_rope", "flashinfer_rope"});
    return table;
  }();
  return names;
}

const LightX2VKernelName* find_lightx2v_kernel_name(const std::string& category, const std::string& name) {
  for (const LightX2VKernelName& entry : lightx2v_kernel_names())
    if (entry.category == category && entry.name == name) return &entry;
  return nullptr;
}

}  // namespace x2v
