// `x2v dit`: one DiT forward pass from a safetensors file of inputs to a safetensors file with `out`.
#include "commands.h"
#include "pipeline/wan_defaults.h"
#include "pipeline/wan_dit_stage.h"
#include "platform/platform.h"
#include "stage_io.h"

namespace x2v::cli {
namespace {

void run_dit(const StageArguments& arguments) {
  const auto start = std::chrono::steady_clock::now();
  check_output_path(arguments.output);
  Device& device = selected_device();
  const io::Config config = load_wan_run_config("wan2.1", wan_dit_task(arguments.model_path),
                                                arguments.config_json, arguments.strict);
  const WanDitStage stage(arguments.model_path, config, device);
  const StageInputs inputs(arguments.inputs);
  WanDitInputs dit_inputs;
  dit_inputs.x = inputs.get("x");
  dit_inputs.timestep = inputs.get("t").to_floats().at(0);
  dit_inputs.context = inputs.get("context");
  dit_inputs.clip_features = inputs.get_optional("clip_fea");
  dit_inputs.y = inputs.get_optional("y");
  const Tensor out = stage.forward(dit_inputs);
  write_outputs(arguments.output, {{"out", out}});
  print_summary("dit", start, device);
}

}  // namespace

void add_dit_command(CLI::App& app) {
  auto arguments = std::make_shared<StageArguments>();
  CLI::App* command =
      app.add_subcommand("dit", "Run one Wan DiT forward pass (inputs and outputs as safetensors)");
  add_stage_options(command, *arguments, "Wan model directory, DiT checkpoint file or index.json",
                    "safetensors with x, t, context (and clip_fea, y for i2v)",
                    "safetensors to write, holding out");
  command->callback([arguments] { run_dit(*arguments); });
}

}  // namespace x2v::cli
