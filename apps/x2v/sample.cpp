// `x2v sample`: the whole denoising loop from noise (given, or from --seed) to latents.
#include "commands.h"
#include "models/wan/dit_model.h"
#include "pipeline/wan_defaults.h"
#include "pipeline/wan_sampling.h"
#include "platform/platform.h"
#include "schedulers/torch_random.h"
#include "stage_io.h"

namespace x2v::cli {
namespace {

struct SampleArguments : StageArguments {
  int64_t seed = -1;
};

void run_sample(const SampleArguments& arguments) {
  const auto start = std::chrono::steady_clock::now();
  check_output_path(arguments.output);
  Device& device = selected_device();
  WanDitCheckpoint checkpoint = WanDitCheckpoint::open(arguments.model_path);
  const std::string task = checkpoint.config().image_branch() ? "i2v" : "t2v";
  const io::Config config = load_wan_config(arguments.config_json, task);
  checkpoint.merge_loras(lora_configs_from(config));
  const StageInputs inputs(arguments.inputs);
  WanSamplingInputs sampling;
  if (inputs.has("noise")) {
    sampling.noise = inputs.get("noise");
  } else {
    const int64_t seed = arguments.seed >= 0 ? arguments.seed : config.get_int("seed");
    const Shape shape = WanVideoShape::from_config(config).latent_shape();
    sampling.noise = Tensor::host_from(torch_randn(static_cast<uint64_t>(seed), shape_numel(shape)), shape);
  }
  const WanSamplingOptions options = WanSamplingOptions::from_config(config);
  sampling.context = inputs.get("context");
  if (options.enable_cfg) sampling.context_null = inputs.get("context_null");
  sampling.clip_features = inputs.get_optional("clip_fea");
  sampling.y = inputs.get_optional("y");
  const WanDit model(checkpoint, WanDitKernels::from_config(config), Precision::from_environment(), device);
  const Tensor latents = sample_wan_latents(model, sampling, options);
  write_outputs(arguments.output, {{"latents", latents}});
  print_summary("sample", start, device);
}

}  // namespace

void add_sample_command(CLI::App& app) {
  auto arguments = std::make_shared<SampleArguments>();
  CLI::App* command =
      app.add_subcommand("sample", "Run the Wan sampling loop (inputs and outputs as safetensors)");
  add_stage_options(command, *arguments,
                    "safetensors with context, context_null (CFG), optionally noise, clip_fea, y",
                    "safetensors to write, holding latents");
  command->add_option("--seed", arguments->seed,
                      "noise seed when the inputs hold no noise (torch.randn's stream)");
  command->callback([arguments] { run_sample(*arguments); });
}

}  // namespace x2v::cli
