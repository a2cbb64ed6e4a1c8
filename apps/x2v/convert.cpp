// `x2v convert`: LightX2V's checkpoint converter (tools/convert/converter.py) for the Wan2.1 DiT and the umT5
// encoder, with its flag spellings and defaults. The work is pipeline/convert.h; this file parses and
// reports.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "io/checkpoint.h"
#include "pipeline/convert.h"

namespace x2v::cli {
namespace {

constexpr const char* kPlace = "convert";

struct ConvertArguments {
  std::string source, output, model_type = "wan_dit", direction, output_ext = ".safetensors";
  std::string output_name = "converted", linear_type, non_linear_dtype = "torch.float32";
  int64_t chunk_size = 100;
  int bits = 8;
  bool save_by_block = false, single_file = false, quantized = false, copy_no_weight_files = false;
  std::vector<std::string> lora_paths;
  std::vector<double> lora_strengths, lora_alphas;
};

constexpr const char* kFooter =
    R"(Output (as LightX2V's converter): -o is a folder, created when missing; the files in it are
  default            <output_name>_part<k>.safetensors (--chunk-size tensors each, 0: one part)
                     + diffusion_pytorch_model.safetensors.index.json
  --single_file      <output_name>.safetensors
  --save_by_block    block_<i>.safetensors + non_block.safetensors + the index (the lazy_load layout)
  --output_ext .pth  <output_name>.pth
Everything is written to a staging folder first and moved into -o only when complete; -o may not be the
source's folder.
Quantization: the 2-D weights of the blocks' attention and FFN linears (DiT: self_attn, cross_attn incl.
k_img/v_img, ffn; T5: attn, ffn) become <name>.weight int8 / float8_e4m3fn + <name>.weight_scale f32 [out, 1]
(symmetric per output channel); the linears are found under either naming (LightX2V checks the stored name,
so it skips the attention of diffusers-named checkpoints). Other float tensors become --non_linear_dtype
(default torch.float32, as LightX2V; 'keep' leaves each dtype). fp8 rounds ties to even where LightX2V's
qtorch rounds them away from zero (one e4m3 step on ~0.3% of values).
Names: forward gives diffusers (DiT) / transformers UMT5 (T5) names, backward the original Wan names, and
a checkpoint already in the asked-for naming keeps it; blocks.N.modulation becomes blocks.N.scale_shift_table
(LightX2V's forward rule misses it). Any prefix (model.diffusion_model., ...) is kept. Renaming wan_t5 is
x2v's own (LightX2V's converter renames only wan_dit).
LoRA (before quantization, in order): --lora_strength and --lora_alpha take one value for all LoRAs or one
per --lora_path. Keys may use original or diffusers names, with or without a diffusion_model./model./unet./
transformer. prefix. Unlike LightX2V, which skips what it cannot merge with a warning, x2v stops with an error
naming the key when a LoRA tensor matches no tensor of the model or does not fit its shape.
Not taken: LightX2V's -o_e/-o_n spellings (use --output_ext/--output_name), --device (x2v converts on the
CPU), --lora_key_convert (names are matched either way), the ComfyUI and key-selection overrides, and
LightX2V's dropping of tensors named *ca*/*audio* (Wan2.1 has none).)";

std::optional<DType> parse_non_linear_dtype(const std::string& text) {
  if (text == "keep") return std::nullopt;
  if (text == "torch.float32" || text == "float32") return DType::f32;
  if (text == "torch.bfloat16" || text == "bfloat16") return DType::bf16;
  if (text == "torch.float16" || text == "float16") return DType::f16;
  throw Error(kPlace, concat("--non_linear_dtype '", text,
                             "' is not one of torch.float32, torch.bfloat16, torch.float16, keep"));
}

QuantFormat parse_linear_type(const std::string& text) {
  if (text == "int8") return QuantFormat::int8;
  if (text == "fp8") return QuantFormat::fp8_e4m3;
  throw Error(kPlace, concat("--linear_type '", text, "' is not one x2v quantizes to; use int8 or fp8 ",
                             "(float8_e4m3fn)"));
}

// LightX2V: one value for every LoRA, or one per LoRA.
std::vector<double> per_lora(const std::vector<double>& values, size_t count, const char* flag) {
  if (values.size() == count) return values;
  if (values.size() == 1) return std::vector<double>(count, values[0]);
  throw Error(kPlace, concat(values.size(), " values of ", flag, " for ", count,
                             " --lora_path; give one for all or one per LoRA"));
}

ConvertOptions options_from(const ConvertArguments& arguments) {
  ConvertOptions options;
  options.source = arguments.source;
  options.output = arguments.output;
  options.model_type = parse_convert_model_type(arguments.model_type);
  options.direction = parse_name_direction(arguments.direction);
  options.output_name = arguments.output_name;
  options.chunk_size = arguments.chunk_size;
  options.copy_no_weight_files = arguments.copy_no_weight_files;
  if (arguments.bits != 8)
    throw Error(kPlace, concat("--bits ", arguments.bits, ": only 8-bit quantization"));
  if (arguments.quantized) {
    if (arguments.linear_type.empty())
      throw Error(kPlace, "--quantized needs --linear_type int8 or --linear_type fp8");
    options.linear_type = parse_linear_type(arguments.linear_type);
    options.non_linear_dtype = parse_non_linear_dtype(arguments.non_linear_dtype);
  } else if (!arguments.linear_type.empty()) {
    throw Error(kPlace,
                concat("--linear_type ", arguments.linear_type, " is given without --quantized; add it"));
  }
  if (arguments.save_by_block && arguments.single_file)
    throw Error(kPlace, "--single_file and --save_by_block cannot be used together; choose one layout");
  if (arguments.output_ext == ".pth") {
    if (arguments.save_by_block || arguments.single_file)
      throw Error(kPlace, "--output_ext .pth writes one file; leave out --save_by_block / --single_file");
    options.layout = OutputLayout::pth;
  } else if (arguments.output_ext != ".safetensors") {
    throw Error(kPlace, concat("--output_ext '", arguments.output_ext, "' is neither .safetensors nor .pth"));
  } else {
    options.layout = arguments.save_by_block ? OutputLayout::by_block
                     : arguments.single_file ? OutputLayout::single_file
                                             : OutputLayout::chunked;
  }
  const size_t count = arguments.lora_paths.size();
  if (count == 0 && (!arguments.lora_strengths.empty() || !arguments.lora_alphas.empty()))
    throw Error(kPlace, "--lora_strength / --lora_alpha are given without --lora_path");
  if (count > 0) {
    const std::vector<double> strengths = arguments.lora_strengths.empty()
                                              ? std::vector<double>(count, 1.0)
                                              : per_lora(arguments.lora_strengths, count, "--lora_strength");
    const std::vector<double> alphas = arguments.lora_alphas.empty()
                                           ? std::vector<double>()
                                           : per_lora(arguments.lora_alphas, count, "--lora_alpha");
    for (size_t i = 0; i < count; ++i) {
      LoraConfig lora{arguments.lora_paths[i], strengths[i], std::nullopt};
      if (!alphas.empty()) lora.alpha = alphas[i];
      options.loras.push_back(lora);
    }
  }
  return options;
}

void run_convert(const ConvertArguments& arguments) {
  const ConvertOptions options = options_from(arguments);
  const ConvertResult result = convert_checkpoint(options);
  std::printf("x2v convert: %s -> %s: %zu files, %lld tensors (%lld quantized, %lld changed by LoRA), %s\n",
              result.source_description.c_str(), options.output.c_str(), result.files.size(),
              static_cast<long long>(result.tensors), static_cast<long long>(result.quantized),
              static_cast<long long>(result.lora_changed), io::human_bytes(result.bytes).c_str());
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto arguments = std::make_shared<ConvertArguments>();
  ConvertArguments& a = *arguments;
  CLI::App* command = app.add_subcommand(
      "convert",
      "Convert a Wan DiT or umT5 checkpoint: rename, merge LoRAs, quantize (LightX2V's converter)");
  command->footer(kFooter);
  command->add_option("-s,--source", a.source, "checkpoint: .safetensors, *.index.json, folder or .pth")
      ->required();
  command->add_option("-o,--output", a.output, "output folder")->required();
  command->add_option("-t,--model_type", a.model_type, "wan_dit or wan_t5")->capture_default_str();
  command->add_option("-d,--direction", a.direction,
                      "forward: original Wan -> diffusers names; backward: the reverse; default: keep names");
  command->add_flag("-b,--save_by_block", a.save_by_block, "block_<i>.safetensors + non_block + index");
  command->add_flag("--single_file", a.single_file, "one <output_name>.safetensors");
  command->add_option("-c,--chunk-size", a.chunk_size, "tensors per part file; 0: one part")
      ->capture_default_str();
  command->add_option("--output_ext", a.output_ext, ".safetensors or .pth")->capture_default_str();
  command->add_option("--output_name", a.output_name, "file name stem")->capture_default_str();
  command->add_flag("--quantized", a.quantized, "quantize the block linears (with --linear_type)");
  command->add_option("--linear_type", a.linear_type, "int8 or fp8 (float8_e4m3fn)");
  command->add_option("--bits", a.bits, "quantization bits (8)")->capture_default_str();
  command
      ->add_option("--non_linear_dtype", a.non_linear_dtype,
                   "with --quantized: dtype of the other float tensors (torch.float32, torch.bfloat16, "
                   "torch.float16, keep)")
      ->capture_default_str();
  command->add_option("--lora_path", a.lora_paths, "LoRA safetensors file(s), merged in order");
  command->add_option("--lora_strength", a.lora_strengths, "strength per LoRA (default 1)");
  command->add_option("--lora_alpha", a.lora_alphas, "alpha for LoRA pairs without one in the file");
  command->add_flag("--copy_no_weight_files", a.copy_no_weight_files,
                    "copy the source folder's other files (config.json, ...)");
  command->callback([arguments] { run_convert(*arguments); });
}

}  // namespace x2v::cli
