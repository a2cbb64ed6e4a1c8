#include "models/wan/dit_kernels.h"

namespace x2v {

WanDitKernels WanDitKernels::from_config(const io::Config& config) {
  WanDitKernels kernels;
  kernels.self_attention = config.get_string("self_attn_1_type", "");
  kernels.cross_attention = config.get_string("cross_attn_1_type", "");
  kernels.image_cross_attention = config.get_string("cross_attn_2_type", "");
  kernels.rms_norm = config.get_string("rms_norm_type", "");
  kernels.layer_norm = config.get_string("layer_norm_type", "");
  kernels.rope = config.get_string("rope_type", "");
  kernels.mm = config.get_string("dit_quant_scheme", "");
  return kernels;
}

}  // namespace x2v
