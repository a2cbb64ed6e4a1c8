// `x2v sample`: the whole denoising loop from noise (given, or from --seed) to latents.
#include "commands.h"
#include "core/log.h"
#include "parallel/parallel_plan.h"
#include "pipeline/wan_defaults.h"
#include "pipeline/wan_dit_stage.h"
#include "platform/platform.h"
#include "schedulers/torch_random.h"
#include "stage_io.h"

namespace x2v::cli {
namespace {

struct SampleArguments : StageArguments {
  std::string seed;
};

void run_sample(const SampleArguments& arguments) {
  const auto start = std::chrono::steady_clock::now();
  check_output_path(arguments.output);
  Device& device = selected_device();
  const io::Config config = load_wan_run_config("wan2.1", wan_dit_task(arguments.model_path),
                                                arguments.config_json, arguments.strict);
  const std::optional<uint64_t> seed_flag =
      arguments.seed.empty() ? std::nullopt : std::optional<uint64_t>(parse_seed_flag(arguments.seed));
  const uint64_t seed = wan_seed(config, seed_flag);
  const WanVideoShape shape = WanVideoShape::from_config(config);
  const WanSamplingOptions options = WanSamplingOptions::from_config(config);
  const StageInputs inputs(arguments.inputs);
  WanSamplingInputs sampling;
  if (inputs.has("noise")) {
    sampling.noise = inputs.get("noise");
  } else {
    const Shape latent = shape.latent_shape();
    sampling.noise = Tensor::host_from(torch_randn(seed, shape_numel(latent)), latent);
    log_info("sample", "noise from seed ", seed,
             seed_flag                    ? " [--seed]"
             : config.set_by_user("seed") ? " [config]"
                                          : " [default]");
  }
  sampling.context = inputs.get("context");
  if (options.enable_cfg) sampling.context_null = inputs.get("context_null");
  sampling.clip_features = inputs.get_optional("clip_fea");
  sampling.y = inputs.get_optional("y");
  // Under mpirun, the config's "parallel" sizes split the loop over the ranks (checked before any weight
  // loads, against the checkpoint's header).
  std::vector<std::string> warnings;
  const std::unique_ptr<ParallelGroups> parallel = make_parallel_groups(
      config, WanDitCheckpoint::open(arguments.model_path).config().num_heads, options.enable_cfg, &warnings);
  for (const std::string& warning : warnings) log_warn("sample", warning);
  WanDitStage stage(arguments.model_path, config, device);
  stage.set_parallel(parallel->sequence(), parallel->cfg());
  const ParallelTraffic before = parallel->traffic();
  const Tensor latents = stage.sample(sampling);
  parallel->log_sampling_traffic(before, options.step_count());
  write_outputs(arguments.output, {{"latents", latents}});
  print_summary("sample", start, device);
}

}  // namespace

void add_sample_command(CLI::App& app) {
  auto arguments = std::make_shared<SampleArguments>();
  CLI::App* command =
      app.add_subcommand("sample", "Run the Wan sampling loop (inputs and outputs as safetensors)");
  add_stage_options(command, *arguments, "Wan model directory, DiT checkpoint file or index.json",
                    "safetensors with context, context_null (CFG), optionally noise, clip_fea, y",
                    "safetensors to write, holding latents");
  command->add_option(
      "--seed", arguments->seed,
      "noise seed (0..2^64-1) when the inputs hold no noise (torch.randn's stream; default: the "
      "config's seed, else 42)");
  command->callback([arguments] { run_sample(*arguments); });
}

}  // namespace x2v::cli
