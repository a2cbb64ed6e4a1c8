// `x2v infer`: LightX2V's command line. Prompt in, MP4 out, one model in memory at a time.
#include "commands.h"
#include "core/log.h"
#include "pipeline/runner_registry.h"
#include "pipeline/wan_defaults.h"
#include "platform/platform.h"
#include "stage_io.h"

namespace x2v::cli {
namespace {

struct InferArguments {
  std::string model_cls = "wan2.1", task = "t2v", model_path, config_json, image_path, seed;
  bool strict = false;
  GenerationRequest request;
};

void run_infer(InferArguments arguments) {
  const auto start = std::chrono::steady_clock::now();
  runners().check(arguments.model_cls, arguments.task);
  arguments.request.image_path = arguments.image_path;
  if (!arguments.seed.empty()) arguments.request.seed = parse_seed_flag(arguments.seed);
  Device& device = selected_device();
  if (arguments.config_json.empty())
    log_warn("infer", "no --config_json: LightX2V's defaults apply (",
             arguments.model_cls == "wan2.1_distill" ? "81 frames of 480x832, 4 steps"
                                                     : "81 frames of 480x832, 50 steps with CFG",
             "), a GPU-sized job; on a CPU start from configs/wan/wan_t2v_cpu.json");
  const std::unique_ptr<Runner> runner =
      runners().create(RunnerArguments{arguments.model_cls, arguments.task, arguments.model_path,
                                       arguments.config_json, arguments.strict},
                       device);
  runner->check_request(arguments.request);
  std::vector<std::string> warnings;
  for (const std::string& line : runner->describe(arguments.request, &warnings)) log_info("settings", line);
  for (const std::string& line : warnings) log_warn("settings", line);
  runner->run(arguments.request);
  if (!is_output_rank()) return;  // under mpirun, rank 0 reports
  const VideoSummary video = runner->video();
  std::fprintf(stderr, "x2v infer: wrote %s (%lld frames, %lldx%lld, %lld fps)\n",
               arguments.request.save_result_path.c_str(), static_cast<long long>(video.frames),
               static_cast<long long>(video.width), static_cast<long long>(video.height),
               static_cast<long long>(video.fps));
  for (const StageReport& stage : runner->stage_reports())
    std::fprintf(stderr, "  %-13s %8.2f s   allocator peak %s\n", stage.stage.c_str(), stage.seconds,
                 format_bytes(stage.allocator_peak_bytes).c_str());
  print_summary("infer", start, device);
}

}  // namespace

void add_infer_command(CLI::App& app) {
  auto arguments = std::make_shared<InferArguments>();
  CLI::App* command = app.add_subcommand("infer", "Generate a video from a prompt (LightX2V's command line)");
  command->add_option("--model_cls", arguments->model_cls, "wan2.1 or wan2.1_distill")->capture_default_str();
  command->add_option("--task", arguments->task, "t2v (text to video) or i2v (image to video: --image_path)")
      ->capture_default_str();
  command->add_option("--model_path", arguments->model_path, "Wan2.1 model directory")->required();
  command->add_option("--config_json", arguments->config_json,
                      "LightX2V-style JSON config (without it: 81 frames of 480x832, 50 steps; "
                      "configs/wan/wan_t2v_cpu.json is sized for a CPU)");
  command->add_option("--prompt", arguments->request.prompt, "what the video shows")->required();
  command->add_option("--negative_prompt", arguments->request.negative_prompt,
                      "what to avoid (default: config sample_neg_prompt, else Wan's official one)");
  command->add_option("--image_path", arguments->image_path, "i2v: the first frame (PNG or JPEG)");
  command->add_option("--seed", arguments->seed,
                      "noise seed, 0..2^64-1 (default: the config's seed, else 42; every run prints it)");
  command->add_option("--save_result_path", arguments->request.save_result_path, "the .mp4 to write")
      ->required();
  command->add_option("--save_frames", arguments->request.save_frames_dir,
                      "also write every frame as DIR/frame_00000.png, ... (a new or empty folder, or one "
                      "holding only an earlier run's frames, which are replaced when the run completes)");
  add_strict_flag(command, arguments->strict);
  command->callback([arguments] { run_infer(*arguments); });
}

}  // namespace x2v::cli
