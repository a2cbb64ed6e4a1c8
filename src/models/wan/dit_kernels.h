#pragma once
// Which kernel runs each op of the DiT, by name as in LightX2V configs ("" = the platform's default).
#include <string>

#include "io/config.h"

namespace x2v {

struct WanDitKernels {
  std::string self_attention;         // self_attn_1_type
  std::string cross_attention;        // cross_attn_1_type (text)
  std::string image_cross_attention;  // cross_attn_2_type (i2v image tokens)
  std::string rms_norm;               // rms_norm_type
  std::string layer_norm;             // layer_norm_type
  std::string rope;                   // rope_type
  std::string mm;                     // dit_quant_scheme ("Default": unquantized)
  std::string conv;

  static WanDitKernels from_config(const io::Config& config);
};

}  // namespace x2v
