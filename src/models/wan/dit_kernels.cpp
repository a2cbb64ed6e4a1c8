#include "models/wan/dit_kernels.h"

#include "core/error.h"
#include "quant/quant_kernels.h"

namespace x2v {

WanDitKernels WanDitKernels::from_config(const io::Config& config) {
  WanDitKernels kernels;
  kernels.self_attention = config.get_string("self_attn_1_type", "");
  kernels.cross_attention = config.get_string("cross_attn_1_type", "");
  kernels.image_cross_attention = config.get_string("cross_attn_2_type", "");
  kernels.rms_norm = config.get_string("rms_norm_type", "");
  kernels.layer_norm = config.get_string("layer_norm_type", "");
  kernels.rope = config.get_string("rope_type", "");
  kernels.block_mm = config.get_string("dit_quant_scheme", "");
  kernels.weight_auto_quant = config.get_bool("weight_auto_quant", false);
  if (config.get_bool("dit_quantized", false)) {
    if (kernels.block_mm.empty() || kernels.block_mm == "Default")
      throw Error("config",
                  concat("dit_quantized is true but dit_quant_scheme is '", kernels.block_mm,
                         "'; name the checkpoint's scheme (int8-vllm, int8-torchao, fp8-sgl, ...)"));
    kernels.quantized_checkpoint = config.get_string("dit_quantized_ckpt", "");
  }
  return kernels;
}

void WanDitKernels::check(Device& device) const {
  KernelRegistries& table = device.kernels();
  for (const std::string* name : {&self_attention, &cross_attention, &image_cross_attention})
    table.attention.resolve(*name);
  table.rms_norm.resolve(rms_norm);
  table.layer_norm.resolve(layer_norm);
  table.rope.resolve(rope);
  table.mm.resolve(mm);
  table.conv.resolve(conv);
  mm_kernel_format(device, block_linear_kernel(), "dit_quant_scheme");
}

}  // namespace x2v
