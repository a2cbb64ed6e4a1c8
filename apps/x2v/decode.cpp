// `x2v decode`: the VAE stage alone: latents (safetensors) to an MP4, or to safetensors holding `video`.
#include "commands.h"
#include "io/image.h"
#include "io/video_writer.h"
#include "pipeline/wan_runner.h"
#include "platform/ops.h"
#include "platform/platform.h"
#include "stage_io.h"

namespace x2v::cli {
namespace {

struct DecodeArguments : StageArguments {
  std::string save_frames;
};

void run_decode(const DecodeArguments& arguments) {
  const auto start = std::chrono::steady_clock::now();
  check_output_path(arguments.output);
  if (!arguments.save_frames.empty() && is_output_rank()) io::check_frames_folder(arguments.save_frames);
  Device& device = selected_device();
  const StageInputs inputs(arguments.inputs);
  const Tensor latents = inputs.get("latents");
  if (latents.ndim() != 4 || latents.shape()[0] != 16)
    throw Error("decode",
                concat("latents are ", latents.describe(), "; expected [16, frames, height, width]"));
  // The video size comes from the latents, whatever the config's target size says.
  nlohmann::json size = {{"target_video_length", 1 + 4 * (latents.shape()[1] - 1)},
                         {"target_height", latents.shape()[2] * 8},
                         {"target_width", latents.shape()[3] * 8}};
  const io::Config base = load_wan_run_config("wan2.1", "t2v", arguments.config_json, arguments.strict);
  WanRunner runner(arguments.model_path, base.merged_with(size), device);
  const WanVideoShape& shape = runner.video_shape();
  std::unique_ptr<io::PngFrameWriter> frames;
  if (!arguments.save_frames.empty() && is_output_rank())
    frames = std::make_unique<io::PngFrameWriter>(arguments.save_frames);
  if (!is_output_rank()) {  // decodes its share of a patch-parallel decode, writes nothing
    runner.decode(latents, [](const Tensor&) {});
  } else if (arguments.output.ends_with(".mp4")) {
    io::VideoOptions options;
    options.fps = static_cast<int>(runner.fps());
    io::Mp4Writer video(arguments.output, shape.width, shape.height, options);
    runner.decode(latents, [&](const Tensor& chunk) {
      video.write(chunk);
      if (frames) frames->write(chunk);
    });
    video.finish();  // first: a frames folder that cannot be swapped in must not cost the video
    if (frames) frames->finish();
  } else {
    Tensor video = Tensor::host({3, shape.frames, shape.height, shape.width}, DType::f32);
    int64_t frame = 0;
    runner.decode(latents, [&](const Tensor& chunk) {
      Tensor target = video.slice(1, frame, frame + chunk.shape()[1]);
      ops::copy(chunk, target);
      frame += chunk.shape()[1];
      if (frames) frames->write(chunk);
    });
    write_outputs(arguments.output, {{"video", video}});
    if (frames) frames->finish();
  }
  print_summary("decode", start, device);
}

}  // namespace

void add_decode_command(CLI::App& app) {
  auto arguments = std::make_shared<DecodeArguments>();
  CLI::App* command =
      app.add_subcommand("decode", "Decode latents with the Wan VAE (to .mp4 or safetensors)");
  add_stage_options(command, *arguments,
                    "Wan model directory (published or diffusers layout; the VAE is read from it, or from "
                    "the config's vae_path)",
                    "safetensors with latents [16, F, H/8, W/8]",
                    "an .mp4, or a safetensors file to hold video [3, frames, H, W] in [-1, 1]");
  command->add_option("--save_frames", arguments->save_frames,
                      "also write every frame as PNG into this folder");
  command->callback([arguments] { run_decode(*arguments); });
}

}  // namespace x2v::cli
