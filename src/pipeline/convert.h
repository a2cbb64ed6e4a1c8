#pragma once
// `x2v convert`: LightX2V's checkpoint converter (tools/convert/converter.py) for the Wan2.1 DiT and the umT5
// encoder. In LightX2V's order: read the source, rename (direction), merge LoRAs, quantize, write. The output
// is a folder, laid out as LightX2V lays it out (output_name defaults to "converted"):
//   chunked (default)  <output_name>_part<k>.safetensors, chunk_size tensors each (0: one part), and
//                      diffusion_pytorch_model.safetensors.index.json;
//   single_file        <output_name>.safetensors;
//   by_block           block_<i>.safetensors (every tensor named "blocks.<i>."), non_block.safetensors and
//                      diffusion_pytorch_model.safetensors.index.json: the layout lazy_load reads;
//   pth                <output_name>.pth (torch.save format).
// Quantization (LightX2V's layout): `<linear>.weight` int8 / float8_e4m3fn [out, in] +
// `<linear>.weight_scale` f32 [out, 1] for the linears ConvertSource::is_quantized_linear names; the other
// float tensors become non_linear_dtype (LightX2V's default: f32), or keep their dtype when it is unset.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/convert_source.h"
#include "platform/ops/mm.h"
#include "quant/lora.h"

namespace x2v {

enum class OutputLayout { chunked, single_file, by_block, pth };

struct ConvertOptions {
  std::string source;  // a .safetensors, *.safetensors.index.json, folder or .pth
  std::string output;  // the output folder (created when missing)
  ConvertModelType model_type = ConvertModelType::wan_dit;
  NameDirection direction = NameDirection::keep;
  QuantFormat linear_type = QuantFormat::none;         // --quantized --linear_type int8|fp8
  std::optional<DType> non_linear_dtype = DType::f32;  // with linear_type only; nullopt keeps each dtype
  OutputLayout layout = OutputLayout::chunked;
  std::string output_name = "converted";
  int64_t chunk_size = 100;
  bool copy_no_weight_files = false;  // copy the source folder's other files (config.json, ...)
  std::vector<LoraConfig> loras;      // merged in order, before quantization
};

struct ConvertResult {
  std::string source_description;
  std::vector<std::string> files;  // written, relative to the output folder
  int64_t tensors = 0;             // written
  int64_t quantized = 0;           // linears quantized
  int64_t lora_changed = 0;        // tensors a LoRA changed
  uint64_t bytes = 0;              // of the tensor files
};

// Converts as `options` say. Every check (model type, source, LoRAs, quantizability, names) runs before the
// first file is written; the output folder gets the files only when all are written. Throws Error for bad
// input.
ConvertResult convert_checkpoint(const ConvertOptions& options);

// The name of the index LightX2V writes beside chunked and block-split outputs.
inline constexpr const char* kConvertIndexName = "diffusion_pytorch_model.safetensors.index.json";

}  // namespace x2v
