#include "pipeline/convert.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"
#include "pipeline/convert_output.h"
#include "quant/quantize.h"

namespace x2v {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPlace = "convert";
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// One source tensor and what becomes of it.
struct PlannedTensor {
  std::string source_name;
  std::string output_name;
  bool quantize = false;
};

struct FileGroup {
  std::string file;
  std::vector<size_t> members;  // indices into the plan
};

bool is_float(DType dtype) {
  return dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16;
}

void check_options(const ConvertOptions& options) {
  if (options.output.empty()) throw Error(kPlace, "no output folder; pass -o/--output FOLDER");
  std::error_code error;
  if ((options.output.ends_with(".safetensors") || options.output.ends_with(".pth")) &&
      !fs::exists(options.output, error))
    throw Error(
        kPlace,
        concat("-o/--output ", options.output, " looks like a file name, but it names the output ",
               "folder (as in LightX2V's converter); name a folder, and the files with ", "--output_name"));
  if (options.output_name.empty() || options.output_name.find('/') != std::string::npos)
    throw Error(kPlace,
                concat("--output_name '", options.output_name, "' must be a plain file name (no folder)"));
  if (options.chunk_size < 0)
    throw Error(kPlace, concat("--chunk-size ", options.chunk_size, " is negative; use 0 for one part"));
  if (options.non_linear_dtype && !is_float(*options.non_linear_dtype))
    throw Error(kPlace, concat("--non_linear_dtype ", dtype_name(*options.non_linear_dtype),
                               " is not a float dtype; use torch.float32, torch.bfloat16 or torch.float16"));
  // Writing into the source's folder could replace the source (its index, its shards).
  const fs::path source_folder = fs::is_directory(options.source, error)
                                     ? fs::path(options.source)
                                     : fs::absolute(options.source).parent_path();
  if (fs::weakly_canonical(fs::absolute(options.output), error) == fs::weakly_canonical(source_folder, error))
    throw Error(kPlace,
                concat("-o/--output ", options.output, " is the folder of the source ", options.source,
                       "; the converted files could overwrite it, so choose another folder"));
  if (options.copy_no_weight_files && !fs::is_directory(options.source, error))
    throw Error(kPlace, concat("--copy_no_weight_files copies the other files of a source folder, but ",
                               options.source, " is a file; leave the flag out or pass the folder"));
}

std::vector<PlannedTensor> plan_tensors(const ConvertSource& source, const ConvertOptions& options) {
  const io::Checkpoint& checkpoint = source.checkpoint();
  std::vector<PlannedTensor> plan;
  std::unordered_map<std::string, std::string> source_of_output;
  const auto claim = [&](const std::string& output, const std::string& from) {
    const auto [existing, inserted] = source_of_output.emplace(output, from);
    if (!inserted)
      throw Error(kPlace, concat("tensors '", existing->second, "' and '", from, "' of ", checkpoint.path(),
                                 " would both be written as '", output, "'; the checkpoint mixes namings"));
  };
  for (const std::string& name : checkpoint.names()) {
    const io::TensorInfo info = checkpoint.info(name);
    if (!info.dtype)
      throw Error(kPlace, concat("tensor '", name, "' of ", checkpoint.path(), " is ", info.file_dtype,
                                 ", which x2v cannot read; convert it to f32/bf16/f16 first"));
    const bool stored_quantized = quant_format_of(*info.dtype) != QuantFormat::none;
    if (options.linear_type != QuantFormat::none && stored_quantized)
      throw Error(kPlace,
                  concat("tensor '", name, "' of ", checkpoint.path(), " is already quantized (",
                         dtype_name(*info.dtype), "); --quantized needs the f32/bf16/f16 checkpoint"));
    PlannedTensor planned{name, source.output_name(name, options.direction), false};
    planned.quantize =
        options.linear_type != QuantFormat::none && source.is_quantized_linear(name, info.shape);
    if (planned.quantize && !is_float(*info.dtype))
      throw Error(kPlace, concat("tensor '", name, "' is ", dtype_name(*info.dtype),
                                 "; only f32/bf16/f16 linears can be quantized"));
    claim(planned.output_name, name);
    if (planned.quantize) claim(planned.output_name + "_scale", name);
    plan.push_back(std::move(planned));
  }
  return plan;
}

std::vector<FileGroup> group_files(const std::vector<PlannedTensor>& plan, const ConvertOptions& options) {
  std::vector<size_t> all(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) all[i] = i;
  switch (options.layout) {
    case OutputLayout::pth:
      return {{options.output_name + ".pth", all}};
    case OutputLayout::single_file:
      return {{options.output_name + ".safetensors", all}};
    case OutputLayout::by_block: {
      // As LightX2V: the first "blocks.<i>." anywhere in the (output) name picks the file.
      static const std::regex kBlock(R"(blocks\.(\d+)\.)");
      std::vector<FileGroup> groups;
      std::map<std::string, size_t> group_of_block;
      FileGroup rest{"non_block.safetensors", {}};
      for (size_t i = 0; i < plan.size(); ++i) {
        std::smatch match;
        if (!std::regex_search(plan[i].output_name, match, kBlock)) {
          rest.members.push_back(i);
          continue;
        }
        const auto [found, added] = group_of_block.emplace(match[1].str(), groups.size());
        if (added) groups.push_back({concat("block_", match[1].str(), ".safetensors"), {}});
        groups[found->second].members.push_back(i);
      }
      if (!rest.members.empty()) groups.push_back(std::move(rest));
      return groups;
    }
    case OutputLayout::chunked: {
      std::vector<FileGroup> groups;
      int64_t in_chunk = 0;
      for (size_t i = 0; i < plan.size(); ++i) {
        if (groups.empty() || (options.chunk_size > 0 && in_chunk >= options.chunk_size)) {
          groups.push_back({concat(options.output_name, "_part", groups.size(), ".safetensors"), {}});
          in_chunk = 0;
        }
        groups.back().members.push_back(i);
        in_chunk += plan[i].quantize ? 2 : 1;  // a quantized linear is written with its scale
      }
      return groups;
    }
  }
  throw InternalError(kPlace, "unknown output layout");
}

// The output tensors of one planned source tensor: LoRAs merged, then quantized or cast.
void convert_tensor(const ConvertSource& source, const LoraMerge& lora, const ConvertOptions& options,
                    const PlannedTensor& planned, NamedTensors& out, ConvertResult& result) {
  Tensor tensor = source.checkpoint().load(planned.source_name);
  if (lora.changes(planned.source_name)) {
    tensor = lora.apply(planned.source_name, tensor);
    ++result.lora_changed;
  }
  if (planned.quantize) {
    const QuantizedWeight quantized = quantize_weight(tensor, options.linear_type);
    out.emplace_back(planned.output_name, quantized.weight);
    out.emplace_back(planned.output_name + "_scale", quantized.scale);
    ++result.quantized;
    return;
  }
  const bool cast = options.linear_type != QuantFormat::none && options.non_linear_dtype &&
                    is_float(tensor.dtype()) && tensor.dtype() != *options.non_linear_dtype;
  out.emplace_back(planned.output_name, cast ? tensor.to_host(*options.non_linear_dtype) : tensor);
}

}  // namespace

ConvertResult convert_checkpoint(const ConvertOptions& options) {
  check_options(options);
  const std::unique_ptr<ConvertSource> source = ConvertSource::open(options.model_type, options.source);
  ConvertResult result;
  result.source_description = source->describe();
  log_info(kPlace, options.source, ": ", result.source_description);
  const LoraMerge lora(options.loras, source->checkpoint(),
                       [&](const std::string& target) { return source->resolve_lora_target(target); });
  const std::vector<PlannedTensor> plan = plan_tensors(*source, options);
  const std::vector<FileGroup> groups = group_files(plan, options);

  StagedOutput output(options.output);
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  for (size_t g = 0; g < groups.size(); ++g) {
    const FileGroup& group = groups[g];
    NamedTensors tensors;
    for (size_t member : group.members) convert_tensor(*source, lora, options, plan[member], tensors, result);
    const uint64_t bytes = options.layout == OutputLayout::pth
                               ? output.write_pth(group.file, tensors)
                               : output.write_safetensors(group.file, tensors);
    for (const auto& [name, tensor] : tensors) weight_map[name] = group.file;
    result.tensors += static_cast<int64_t>(tensors.size());
    result.bytes += bytes;
    log_info(kPlace, "wrote ", group.file, " (", tensors.size(), " tensors, ", io::human_bytes(bytes),
             "; file ", g + 1, " of ", groups.size(), ")");
  }
  if (options.layout == OutputLayout::chunked || options.layout == OutputLayout::by_block) {
    nlohmann::ordered_json index = {{"metadata", {{"total_size", result.bytes}}}, {"weight_map", weight_map}};
    output.write_text(kConvertIndexName, index.dump(2) + "\n");
  }
  if (options.copy_no_weight_files)
    output.copy_files(options.source, {".pth", ".pt", ".safetensors", ".index.json"});
  output.publish();
  result.files = output.files();
  return result;
}

}  // namespace x2v
