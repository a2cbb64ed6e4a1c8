#include "pipeline/wan_runner.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "core/log.h"
#include "core/progress.h"
#include "io/image.h"
#include "io/video_writer.h"
#include "models/common/precision.h"
#include "models/wan/dit_model.h"
#include "models/wan/t5_encoder.h"
#include "models/wan/t5_tokenizer.h"
#include "models/wan/vae.h"
#include "pipeline/wan_sampling.h"
#include "platform/allocator.h"
#include "platform/platform.h"
#include "schedulers/torch_random.h"

namespace x2v {
namespace {

const char* const kModelClasses = "wan2.1, wan2.1_distill";

// The device a stage runs on: `<part>_cpu_offload` keeps that part on the cpu.
Device& stage_device(const io::Config& config, const std::string& offload_key, Device& device) {
  return config.get_bool(offload_key, false) ? cpu_device() : device;
}

void check_writable_folder(const std::string& path, const std::string& what) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::absolute(path).parent_path();
  std::error_code error;
  if (!fs::is_directory(parent, error))
    throw Error("output", concat("the folder of ", what, " '", path, "' does not exist; create it first"));
  if (access(parent.c_str(), W_OK) != 0)
    throw Error("output", concat("cannot write to the folder of ", what, " '", path, "'"));
}

}  // namespace

void check_wan_model_class(const std::string& model_cls, const std::string& task) {
  if (model_cls != "wan2.1" && model_cls != "wan2.1_distill")
    throw Error("infer", concat("unknown --model_cls '", model_cls, "'; supported: ", kModelClasses));
  if (task != "t2v")
    throw Error("infer", concat("unsupported --task '", task, "' for ", model_cls,
                                "; supported: t2v (i2v needs the CLIP image encoder, not built yet)"));
}

io::Config load_wan_run_config(const std::string& model_cls, const std::string& task,
                               const std::string& config_path) {
  nlohmann::json defaults = wan_default_config(task);
  if (model_cls == "wan2.1_distill") {
    // LightX2V's wan2.1 step-distill configs: 4 steps, no CFG, shift 5.
    defaults["infer_steps"] = 4;
    defaults["denoising_step_list"] = {1000, 750, 500, 250};
    defaults["enable_cfg"] = false;
    defaults["sample_shift"] = 5.0;
  }
  if (config_path.empty()) return io::Config(defaults, "defaults");
  const io::Config user = io::Config::from_file(config_path);
  return io::Config(io::merge_config(defaults, user.json()), config_path);
}

WanT2VRunner::WanT2VRunner(const std::string& model_path, io::Config config, Device& device)
    : config_(std::move(config)), device_(&device) {
  shape_ = WanVideoShape::from_config(config_);
  WanSamplingOptions::from_config(config_);  // sampler keys are checked now, not after the text encoder
  const int64_t fps = config_.get_int("fps", 16);
  if (fps <= 0 || fps > 240) throw Error("config", concat("fps ", fps, " is not in 1..240"));
  if (config_.get_bool("cpu_offload", false) && device.name() != "cpu")
    throw Error("config", "cpu_offload is not supported yet on this device; set it to false");
  files_ = WanModelFiles::locate(model_path, config_);
}

bool WanT2VRunner::cfg_enabled() const {
  return config_.get_bool("enable_cfg", true);
}

void WanT2VRunner::check_request(const WanRequest& request) const {
  if (clean_prompt(request.prompt).empty())
    throw Error("infer", "the prompt is empty; give --prompt \"a description of the video\"");
  if (request.save_result_path.empty()) throw Error("infer", "no output; give --save_result_path out.mp4");
  check_writable_folder(request.save_result_path, "--save_result_path");
  if (!request.save_frames_dir.empty()) check_writable_folder(request.save_frames_dir, "--save_frames");
}

void WanT2VRunner::timed_stage(const std::string& name, const std::function<void()>& body) {
  const auto start = std::chrono::steady_clock::now();
  device_->allocator().reset_peak();
  log_info("infer", "stage ", name, ": started");
  body();
  WanStageReport report{name, seconds_since(start), device_->allocator().stats().peak_bytes};
  // The stage's model and activations are gone; their cached blocks would only sit beside the next
  // stage's (different) sizes, so they go back to the system.
  device_->allocator().release_cache();
  cpu_device().allocator().release_cache();
  log_info("infer", "stage ", name, ": ", report.seconds, " s, allocator peak ",
           format_bytes(report.allocator_peak_bytes));
  reports_.push_back(report);
}

WanTextContexts WanT2VRunner::encode_text(const std::string& prompt, const std::string& negative_prompt) {
  Device& device = stage_device(config_, "t5_cpu_offload", *device_);
  const T5Tokenizer tokenizer(files_.tokenizer);
  const int64_t text_len = config_.get_int("text_len", 512);
  // The encoder lives only inside this function: it is freed before the DiT is loaded.
  log_info("infer", "text encoder ", files_.t5,
           files_.t5_quant_scheme.empty() ? std::string()
                                          : concat(" (t5_quant_scheme ", files_.t5_quant_scheme,
                                                   files_.t5_auto_quant ? ", weight_auto_quant" : "", ")"));
  const std::unique_ptr<T5Encoder> encoder =
      T5Encoder::open(files_.t5, Precision::from_environment(), device,
                      T5LinearOptions{files_.t5_quant_scheme, files_.t5_auto_quant});
  const bool cfg = cfg_enabled();
  Progress progress("text encoder", cfg ? 2 : 1);
  WanTextContexts contexts;
  contexts.context = encoder->encode(tokenizer.encode(prompt, text_len));
  progress.update(1);
  if (cfg) {
    std::string negative = negative_prompt;
    if (negative.empty()) negative = config_.get_string("sample_neg_prompt", wan_default_negative_prompt());
    contexts.context_null = encoder->encode(tokenizer.encode(negative, text_len));
    progress.update(2);
  }
  return contexts;
}

Tensor WanT2VRunner::sample(const WanTextContexts& contexts, int64_t seed) {
  if (seed < 0) seed = config_.get_int("seed", 42);
  const WanDitCheckpoint checkpoint = open_wan_dit_checkpoint(files_.dit, config_);
  const WanDit model(checkpoint, WanDitKernels::from_config(config_), Precision::from_environment(),
                     *device_);
  WanSamplingInputs inputs;
  const Shape shape = shape_.latent_shape();
  inputs.noise = Tensor::host_from(torch_randn(static_cast<uint64_t>(seed), shape_numel(shape)), shape);
  inputs.context = contexts.context;
  inputs.context_null = contexts.context_null;
  return sample_wan_latents(model, inputs, WanSamplingOptions::from_config(config_));
}

void WanT2VRunner::decode(const Tensor& latents, const std::function<void(const Tensor&)>& sink) {
  Device& device = stage_device(config_, "vae_cpu_offload", *device_);
  WanVaeOptions options;
  options.tiling = config_.get_bool("use_tiling_vae", false);
  const std::string dtype = config_.get_string("vae_dtype", "fp32");
  if (dtype == "bf16")
    options.dtype = DType::bf16;
  else if (dtype != "fp32")
    throw Error("config", concat("vae_dtype '", dtype, "' is not fp32 or bf16"));
  const std::unique_ptr<WanVae> vae = WanVae::open(files_.vae, options, device);
  Progress progress("vae decode", static_cast<int>(latents.shape()[1]));
  int64_t decoded = 0;
  vae->decode(latents, [&](const Tensor& frames) {
    sink(frames);
    progress.update(++decoded);
  });
}

void WanT2VRunner::run(const WanRequest& request) {
  check_request(request);
  WanTextContexts contexts;
  timed_stage("text encoder", [&] { contexts = encode_text(request.prompt, request.negative_prompt); });
  Tensor latents;
  timed_stage("dit", [&] { latents = sample(contexts, request.seed); });
  contexts = {};
  timed_stage("vae decode", [&] {
    io::VideoOptions video_options;
    video_options.fps = static_cast<int>(config_.get_int("fps", 16));
    io::Mp4Writer video(request.save_result_path, shape_.width, shape_.height, video_options);
    std::unique_ptr<io::PngFrameWriter> frames;
    if (!request.save_frames_dir.empty())
      frames = std::make_unique<io::PngFrameWriter>(request.save_frames_dir);
    decode(latents, [&](const Tensor& chunk) {
      video.write(chunk);
      if (frames) frames->write(chunk);
    });
    if (frames) frames->finish();
    video.finish();
  });
}

}  // namespace x2v
