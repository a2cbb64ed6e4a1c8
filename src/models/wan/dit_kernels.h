#pragma once
// Which kernel runs each op of the DiT, by name as in LightX2V configs ("" = the platform's default), and
// how the quantized linears get their weights.
#include <string>

#include "io/config.h"
#include "platform/device.h"

namespace x2v {

struct WanDitKernels {
  std::string self_attention;         // self_attn_1_type
  std::string cross_attention;        // cross_attn_1_type (text)
  std::string image_cross_attention;  // cross_attn_2_type (i2v image tokens)
  std::string rms_norm;               // rms_norm_type
  std::string layer_norm;             // layer_norm_type
  std::string rope;                   // rope_type
  // Linears outside the blocks' attention and FFN (embeddings, time projection, head): never quantized.
  std::string mm;
  // The blocks' attention and FFN linears, the ones LightX2V quantizes: dit_quant_scheme ("" = `mm`,
  // "Default" = unquantized). A quantized scheme ("int8-vllm", "fp8-sgl", ...) reads `<name>.weight`
  // int8/float8_e4m3fn + `<name>.weight_scale` from the checkpoint.
  std::string block_mm;
  // weight_auto_quant: a quantized block_mm quantizes float block weights at load (as LightX2V's
  // converter would) instead of requiring a quantized checkpoint.
  bool weight_auto_quant = false;
  // dit_quantized_ckpt (read when dit_quantized is true): the file, index.json or folder every DiT
  // weight is read from instead of the model's checkpoint; "" = the model's checkpoint.
  std::string quantized_checkpoint;
  std::string conv;

  // Throws Error for dit_quantized with an unquantized dit_quant_scheme.
  static WanDitKernels from_config(const io::Config& config);
  // The kernel of the blocks' attention and FFN linears: block_mm, or `mm` when that is empty.
  const std::string& block_linear_kernel() const { return block_mm.empty() ? mm : block_mm; }
  // Resolves every name against `device`'s registries without building anything, so an unknown kernel or
  // quant scheme is reported before any weight loads.
  void check(Device& device) const;
};

}  // namespace x2v
