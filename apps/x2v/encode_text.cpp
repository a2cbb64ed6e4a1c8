// `x2v encode-text`: the text stage alone: prompt (and negative prompt) to umT5 contexts in safetensors,
// the inputs `x2v sample` takes.
#include "commands.h"
#include "models/wan/t5_tokenizer.h"
#include "pipeline/wan_runner.h"
#include "platform/platform.h"
#include "stage_io.h"

namespace x2v::cli {
namespace {

struct EncodeTextArguments {
  std::string model_path, config_json, prompt, negative_prompt, output;
  bool strict = false;
};

void run_encode_text(const EncodeTextArguments& arguments) {
  const auto start = std::chrono::steady_clock::now();
  check_output_path(arguments.output);
  Device& device = selected_device();
  WanRunner runner(arguments.model_path,
                   load_wan_run_config("wan2.1", "t2v", arguments.config_json, arguments.strict), device);
  GenerationRequest request;
  request.prompt = arguments.prompt;
  if (clean_prompt(request.prompt).empty())
    throw Error("encode-text", "the prompt is empty; give --prompt \"a description of the video\"");
  const WanTextContexts contexts = runner.encode_text(arguments.prompt, arguments.negative_prompt);
  std::vector<std::pair<std::string, Tensor>> outputs = {{"context", contexts.context}};
  if (contexts.context_null.defined()) outputs.emplace_back("context_null", contexts.context_null);
  write_outputs(arguments.output, outputs);
  print_summary("encode-text", start, device);
}

}  // namespace

void add_encode_text_command(CLI::App& app) {
  auto arguments = std::make_shared<EncodeTextArguments>();
  CLI::App* command = app.add_subcommand(
      "encode-text", "Encode a prompt with umT5 (writes context, and context_null when CFG is on)");
  command->add_option("--model_path", arguments->model_path, "Wan2.1 model directory")->required();
  command->add_option("--config_json", arguments->config_json, "LightX2V-style JSON config");
  command->add_option("--prompt", arguments->prompt, "the prompt")->required();
  command->add_option("--negative_prompt", arguments->negative_prompt,
                      "the negative prompt (default: config sample_neg_prompt, else Wan's official one)");
  command->add_option("--output", arguments->output, "safetensors to write")->required();
  add_strict_flag(command, arguments->strict);
  command->callback([arguments] { run_encode_text(*arguments); });
}

}  // namespace x2v::cli
