// `x2v infer`: LightX2V's command line. Prompt in, MP4 out, one model in memory at a time.
#include "commands.h"
#include "pipeline/wan_runner.h"
#include "platform/platform.h"
#include "stage_io.h"

namespace x2v::cli {
namespace {

struct InferArguments {
  std::string model_cls = "wan2.1", task = "t2v", model_path, config_json, image_path;
  WanRequest request;
};

void run_infer(const InferArguments& arguments) {
  const auto start = std::chrono::steady_clock::now();
  check_wan_model_class(arguments.model_cls, arguments.task);
  if (!arguments.image_path.empty())
    throw Error("infer", "--image_path is for i2v; task t2v takes only a prompt");
  Device& device = selected_device();
  WanT2VRunner runner(arguments.model_path,
                      load_wan_run_config(arguments.model_cls, arguments.task, arguments.config_json),
                      device);
  runner.run(arguments.request);
  std::fprintf(
      stderr, "x2v infer: wrote %s (%lld frames, %lldx%lld, %lld fps)\n",
      arguments.request.save_result_path.c_str(), static_cast<long long>(runner.video_shape().frames),
      static_cast<long long>(runner.video_shape().width), static_cast<long long>(runner.video_shape().height),
      static_cast<long long>(runner.config().get_int("fps", 16)));
  for (const WanStageReport& stage : runner.stage_reports())
    std::fprintf(stderr, "  %-13s %8.2f s   allocator peak %s\n", stage.stage.c_str(), stage.seconds,
                 format_bytes(stage.allocator_peak_bytes).c_str());
  print_summary("infer", start, device);
}

}  // namespace

void add_infer_command(CLI::App& app) {
  auto arguments = std::make_shared<InferArguments>();
  CLI::App* command = app.add_subcommand("infer", "Generate a video from a prompt (LightX2V's command line)");
  command->add_option("--model_cls", arguments->model_cls, "wan2.1 or wan2.1_distill")->capture_default_str();
  command->add_option("--task", arguments->task, "t2v")->capture_default_str();
  command->add_option("--model_path", arguments->model_path, "Wan2.1 model directory")->required();
  command->add_option("--config_json", arguments->config_json, "LightX2V-style JSON config");
  command->add_option("--prompt", arguments->request.prompt, "what the video shows")->required();
  command->add_option("--negative_prompt", arguments->request.negative_prompt,
                      "what to avoid (default: config sample_neg_prompt, else Wan's official one)");
  command->add_option("--image_path", arguments->image_path, "input image (i2v)");
  command->add_option("--seed", arguments->request.seed, "noise seed (default: config seed, else 42)");
  command->add_option("--save_result_path", arguments->request.save_result_path, "the MP4 to write")
      ->required();
  command->add_option("--save_frames", arguments->request.save_frames_dir,
                      "also write every frame as PNG into this folder");
  command->callback([arguments] { run_infer(*arguments); });
}

}  // namespace x2v::cli
