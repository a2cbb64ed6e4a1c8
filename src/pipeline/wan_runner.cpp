#include "pipeline/wan_runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/log.h"
#include "core/progress.h"
#include "io/image.h"
#include "io/video_writer.h"
#include "models/common/precision.h"
#include "models/wan/clip_encoder.h"
#include "models/wan/dit_model.h"
#include "models/wan/t5_encoder.h"
#include "models/wan/t5_tokenizer.h"
#include "models/wan/taehv.h"
#include "models/wan/vae.h"
#include "models/wan/vae_weights.h"
#include "pipeline/runner_registry.h"
#include "pipeline/wan_dit_stage.h"
#include "pipeline/wan_i2v.h"
#include "pipeline/wan_moe.h"
#include "platform/allocator.h"
#include "platform/platform.h"
#include "quant/lora.h"
#include "quant/quant_kernels.h"
#include "schedulers/torch_random.h"

namespace x2v {
namespace {

// The device a stage runs on: `<part>_cpu_offload` keeps that part on the cpu.
Device& stage_device(const io::Config& config, const std::string& offload_key, Device& device) {
  return config.get_bool(offload_key, false) ? host_device() : device;
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

// The video path: an .mp4 file (any case) that is not a folder, in a writable folder.
void check_video_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error))
    throw Error("output", concat("--save_result_path '", path, "' is a folder; name an .mp4 file in it"));
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension != ".mp4")
    throw Error("output", concat("--save_result_path '", path, "' does not end in .mp4; x2v writes H.264 in",
                                 " an MP4 container, so name it e.g. out.mp4"));
  check_writable_folder(path, "--save_result_path");
}

const char* dtype_setting(DType dtype) {
  return dtype == DType::bf16 ? "BF16" : dtype == DType::f16 ? "FP16" : "FP32";
}

// The image an i2v request names, decoded (Error naming the file when it is missing or not an image).
Tensor request_image(const GenerationRequest& request) {
  if (request.image_path.empty())
    throw Error("infer", "--task i2v animates an image; give --image_path IMG (PNG or JPEG)");
  return io::read_image(request.image_path);
}

}  // namespace

WanRunner::WanRunner(const std::string& model_path, io::Config config, Device& device, std::string model_cls,
                     std::string task)
    : config_(std::move(config)), device_(&device), model_cls_(std::move(model_cls)), task_(std::move(task)) {
  if (task_ != "t2v" && task_ != "i2v")
    throw Error("infer", concat("unknown --task '", task_, "' for ", model_cls_, "; supported: t2v, i2v"));
  const bool i2v = task_ == "i2v";
  const bool experts = model_cls_ == "wan2.2_moe" || model_cls_ == "wan2.2_moe_distill";
  shape_ = WanVideoShape::from_config(config_);
  const WanSamplingOptions sampling = WanSamplingOptions::from_config(config_);
  fps_ = config_.get_int("fps", 16);
  if (fps_ <= 0 || fps_ > 240) throw Error("config", concat("fps ", fps_, " is not in 1..240"));
  text_len_ = config_.get_int("text_len", 512);
  if (text_len_ < 1 || text_len_ > 512)
    throw Error("config",
                concat("text_len ", text_len_, " is not in 1..512 (umT5 prompt tokens, EOS included;",
                       " Wan uses 512) (in ", config_.source(), ")"));
  config_.get_string("sample_neg_prompt", "");
  wan_seed(config_, std::nullopt);
  vae_options_.tiling = config_.get_bool("use_tiling_vae", false);
  const std::string vae_dtype = config_.get_string("vae_dtype", "fp32");
  if (vae_dtype == "bf16")
    vae_options_.dtype = DType::bf16;
  else if (vae_dtype != "fp32")
    throw Error("config",
                concat("vae_dtype '", vae_dtype, "' is not fp32 or bf16 (in ", config_.source(), ")"));
  offload_ = OffloadOptions::from_config(config_);
  if (offload_.cpu_offload && !offload_.lazy_load && device.host_accessible())
    log_warn("config", "cpu_offload: ", device.device_string(),
             " computes in host memory, so the DiT's weights stay where they are (lazy_load streams them from"
             " disk instead)");
  config_.get_bool("unload_modules", false);
  const Precision precision = Precision::from_environment();

  // Kernels and quant schemes, on the device each stage will run on.
  const WanDitKernels kernels = WanDitKernels::from_config(config_);
  kernels.check(device);
  if (sampling.low_noise_guide_scale && !experts)
    throw Error("config", concat("sample_guide_scale is a list [high, low], which only Wan2.2's two experts "
                                 "take (--model_cls wan2.2_moe); give one number for ",
                                 model_cls_, " (in ", config_.source(), ")"));
  if (experts) moe_ = WanMoeOptions::from_config(config_, model_cls_ == "wan2.2_moe_distill");
  // The DiT's type first: a t2v model given for i2v is named as such, not by the CLIP file it lacks.
  WanModelNeeds needs;
  needs.experts = experts;
  needs.wan22_vae = model_cls_ == "wan2.2";
  files_ = WanModelFiles::locate(model_path, config_, needs);
  if (!files_.t5_quant_scheme.empty())
    mm_kernel_format(stage_device(config_, "t5_cpu_offload", device), files_.t5_quant_scheme,
                     "t5_quant_scheme");

  // Sizes against memory: the architecture comes from the checkpoint's header and config.json only.
  dit_config_ = WanDitCheckpoint::open(files_.dit).config();
  if (experts) {
    // Both experts have one architecture (LightX2V reads low_noise_model/config.json for both).
    const WanDitConfig high = WanDitCheckpoint::open(files_.dit_high_noise).config();
    if (high.describe() != dit_config_.describe())
      throw Error("model", concat("the experts differ: ", files_.dit_high_noise, " is ", high.describe(),
                                  ", ", files_.dit, " is ", dit_config_.describe(),
                                  "; both must come from one Wan2.2 A14B model"));
  }
  ti2v_ = model_cls_ == "wan2.2";  // its i2v holds the first latent frame instead of taking y
  if (i2v && !dit_config_.takes_y() && !ti2v_)
    throw Error("model",
                concat("--task i2v needs an I2V model (its DiT takes the image latent beside the noise); ",
                       files_.dit, " is a t2v model (in_dim ", dit_config_.in_dim,
                       "): use an I2V model (Wan2.1-I2V-14B, Wan2.2-I2V-A14B), or --task t2v"));
  if (!i2v && dit_config_.takes_y())
    throw Error("model", concat(files_.dit, " is an I2V model (in_dim ", dit_config_.in_dim,
                                "); run it with --task i2v --image_path IMG"));
  if (i2v) {
    needs.i2v = true;
    needs.clip = dit_config_.image_branch();
    files_ = WanModelFiles::locate(model_path, config_, needs);
  }
  if (i2v && dit_config_.image_branch() && files_.clip.empty())
    throw Error("config", concat("use_image_encoder is false, but this Wan2.1 I2V DiT conditions on CLIP "
                                 "features; remove the key (in ",
                                 config_.source(), ")"));
  // The latent space is the VAE's: 16 channels at 8x (Wan2.1's VAE), 48 at 16x (Wan2.2's); the DiT must make
  // latents of that width.
  if (!files_.lightvae) {
    const WanVaeConfig vae = WanVae::read_config(files_.vae);
    if (vae.z_dim != dit_config_.out_dim)
      throw Error("model",
                  concat("the DiT makes ", dit_config_.out_dim, " latent channels but ", files_.vae, " is a ",
                         vae.describe(), " of ", vae.z_dim, ": give the VAE of the model's family (",
                         dit_config_.out_dim == 48 ? kWan22VaeFile : kWanVaeFile, ") as vae_path"));
    shape_.latent_channels = vae.z_dim;
    shape_.spatial_factor = vae.spatial_factor();
    const int64_t multiple = 2 * shape_.spatial_factor;
    if (shape_.height % multiple || shape_.width % multiple)
      throw Error("config",
                  concat("target_height x target_width ", shape_.height, "x", shape_.width,
                         " must be multiples of ", multiple, " for ", vae.describe(),
                         " (16x latents in 2x2 patches); use e.g. 704x1280 (in ", config_.source(), ")"));
  }
  target_shape_ = shape_;  // i2v sizes the video from the image within this area
  // Under mpirun: the config's parallel sizes against the ranks and the model, before any work.
  parallel_ = make_parallel_groups(config_, dit_config_.num_heads, cfg_enabled(), &parallel_warnings_);
  // Quantized block linears keep 1 byte a weight.
  const size_t block_weight_bytes =
      mm_kernel_format(device, kernels.block_linear_kernel(), "dit_quant_scheme") == QuantFormat::none
          ? dtype_size(precision.compute)
          : 1;
  cost_ =
      estimate_wan_cost(dit_config_, shape_, sampling.evaluations(), precision.compute, block_weight_bytes,
                        vae_options_.tiling ? vae_options_.tile_sample_size : 0, vae_options_.dtype);
  if (offload_.streams(device.host_accessible())) {
    // Two blocks' weights are held at a time, not all of them.
    const double layers = static_cast<double>(dit_config_.num_layers);
    cost_.dit_bytes -= cost_.dit_block_weight_bytes * std::max(0.0, layers - 2);
  }
  if (files_.lightvae) {
    // LightVAE is the Wan2.1 VAE with every width pruned to a quarter (LightX2V's pruning_rate 0.75 of 96);
    // the headers say which one the file is.
    constexpr int64_t kLightVaeDim = 24;
    const std::unique_ptr<io::Checkpoint> vae_file = io::open_checkpoint(files_.vae);
    const int64_t dim = WanVaeCheckpoint(*vae_file).config().dim;
    if (dim != kLightVaeDim)
      throw Error("vae", concat(files_.vae, " is a Wan2.1 VAE of base width ", dim,
                                "; use_lightvae takes LightX2V's pruned LightVAE (lightvaew2_1, base width ",
                                kLightVaeDim, "): give it as vae_path, or set use_lightvae to false"));
  }
  // The TAE decoder needs a fraction of the VAE's memory (and its own check would only refuse less).
  if (files_.tae.empty()) check_vae_memory(cost_, shape_, stage_device(config_, "vae_cpu_offload", device));
}

void WanRunner::check_dit_stage() const {
  const WanDitKernels kernels = WanDitKernels::from_config(config_);
  if (!kernels.quantized_checkpoint.empty() && !std::filesystem::exists(kernels.quantized_checkpoint))
    throw Error("config", concat("dit_quantized_ckpt '", kernels.quantized_checkpoint,
                                 "' does not exist; give the quantized DiT's file or folder (in ",
                                 config_.source(), ")"));
  if (!files_.dit_high_noise.empty() && config_.get_bool("dit_quantized", false))
    for (const char* key : {"high_noise_quantized_ckpt", "low_noise_quantized_ckpt"})
      if (config_.has(key) && !std::filesystem::exists(config_.get_string(key)))
        throw Error("config",
                    concat(key, " '", config_.get_string(key),
                           "' does not exist; give that expert's quantized DiT (in ", config_.source(), ")"));
  for (const LoraConfig& lora : lora_configs_from(config_)) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(lora.path, error))
      throw Error("config", concat("lora_configs: '", lora.path, "' is not a file; check the path (in ",
                                   config_.source(), ")"));
    if (!std::isfinite(lora.strength))
      throw Error("config", concat("lora_configs: the strength of '", lora.path, "' is not a finite number"));
  }
  check_dit_memory(cost_, shape_, *device_);
}

std::string WanRunner::origin(const std::string& key) const {
  return config_.set_by_user(key) ? "[config]" : "[default]";
}

std::vector<std::string> WanRunner::describe(const GenerationRequest& request,
                                             std::vector<std::string>* warnings) const {
  const WanSamplingOptions sampling = WanSamplingOptions::from_config(config_);
  const Precision precision = Precision::from_environment();
  const Shape latent = shape_.latent_shape();
  std::vector<std::string> lines;
  if (task_ == "i2v") {
    // The size follows the image: the target area at its aspect ratio.
    const Tensor image = request_image(request);
    const WanVideoShape shape = image_video_shape(image);
    const Shape i2v_latent = shape.latent_shape();
    lines.push_back(concat(model_cls_, " i2v: ", request.image_path, " (", image.size(1), "x", image.size(2),
                           ") -> ", shape.frames, " frames of ", shape.height, "x", shape.width,
                           " (the area of ", target_shape_.height, "x", target_shape_.width, " ",
                           origin("target_height"), " at the image's aspect ratio) at ", fps_, " fps ",
                           origin("fps"), "; latents ", i2v_latent[0], "x", i2v_latent[1], "x", i2v_latent[2],
                           "x", i2v_latent[3]));
    lines.push_back(concat(
        files_.clip.empty() ? std::string("no CLIP image encoder (this DiT takes none)")
                            : concat("image encoder ", files_.clip,
                                     files_.clip_quant_scheme.empty()
                                         ? std::string()
                                         : concat(" (", files_.clip_quant_scheme,
                                                  files_.clip_auto_quant ? ", quantized at load" : "", ")")),
        config_.get_bool("clip_cpu_offload", false) ? " (on cpu)" : "", "; image latent from ",
        files_.vae_encoder));
  } else {
    lines.push_back(concat(model_cls_, " t2v: ", shape_.frames, " frames of ", shape_.height, "x",
                           shape_.width, " ", origin("target_video_length"), " at ", fps_, " fps ",
                           origin("fps"), "; latents ", latent[0], "x", latent[1], "x", latent[2], "x",
                           latent[3], ", ", cost_.tokens, " DiT tokens"));
  }
  if (!files_.dit_high_noise.empty())
    lines.push_back(concat(
        "experts: high-noise ", files_.dit_high_noise, " while ",
        moe_.boundary_step_index >= 0 ? concat("step < ", moe_.boundary_step_index, " [boundary_step_index]")
                                      : concat("timestep >= ", moe_.boundary * 1000, " (boundary ",
                                               moe_.boundary, " ", origin("boundary"), ")"),
        sampling.enable_cfg ? concat(", scale ", sampling.guide_scale) : std::string(), "; then low-noise ",
        files_.dit,
        sampling.enable_cfg
            ? concat(", scale ", sampling.low_noise_guide_scale.value_or(sampling.guide_scale))
            : std::string(),
        "; one expert in memory at a time"));
  const bool distill = !sampling.sampler.denoising_step_list.empty();
  const int64_t step_count = sampling.step_count();
  const std::string steps =
      concat(step_count, step_count == 1 ? " step" : " steps", distill ? " (denoising_step_list) " : " ",
             origin(distill ? "denoising_step_list" : "infer_steps"));
  lines.push_back(
      concat(steps, ", solver ", sampling.sampler.solver, ", shift ", sampling.sampler.shift, " ",
             origin("sample_shift"), ", CFG ", sampling.enable_cfg ? "on " : "off ", origin("enable_cfg"),
             sampling.enable_cfg ? concat(", scale ", sampling.guide_scale, " ", origin("sample_guide_scale"))
                                 : std::string(),
             ", feature caching ", sampling.caching.describe(), " ", origin("feature_caching")));
  lines.push_back(concat("seed ", wan_seed(config_, request.seed), " ",
                         request.seed ? "[--seed]" : origin("seed"), ", text_len ", text_len_, " ",
                         origin("text_len"), ", negative prompt ",
                         !request.negative_prompt.empty()   ? "[--negative_prompt]"
                         : config_.has("sample_neg_prompt") ? "[config sample_neg_prompt]"
                                                            : "[Wan's default]"));
  const WanDitKernels kernels = WanDitKernels::from_config(config_);
  KernelRegistries& registries = device_->kernels();
  const std::string block_mm = registries.mm.resolve(kernels.block_linear_kernel());
  const std::string vae_dtype = vae_options_.dtype == DType::bf16 ? "bf16" : "fp32";
  const std::string decoder =
      !files_.tae.empty()
          ? concat("decoder TAEHV", files_.tae_need_scaled ? " (need_scaled)" : "", " in bf16 [use_tae]")
          : concat(files_.lightvae ? "decoder LightVAE [use_lightvae], " : "", "vae_dtype ", vae_dtype,
                   vae_options_.tiling ? " tiled" : "");
  lines.push_back(concat("precision DTYPE=", dtype_setting(precision.compute),
                         " SENSITIVE_LAYER_DTYPE=", dtype_setting(precision.sensitive), ", ", decoder,
                         "; platform ", device_->device_string(),
                         config_.get_bool("t5_cpu_offload", false) ? " (umT5 on cpu)" : "",
                         config_.get_bool("vae_cpu_offload", false) ? " (VAE on cpu)" : ""));
  if (const Communicator* world = parallel_->world(); world != nullptr && world->size() > 1)
    lines.push_back(concat(
        "parallel: ", world->size(), " ranks (", world->backend(), "), ", parallel_->options().describe(),
        !files_.tae.empty() && parallel_->vae() != nullptr ? "; the TAEHV decoder runs whole on every rank"
                                                           : "",
        "; rank 0 prints and writes"));
  if (warnings != nullptr)
    warnings->insert(warnings->end(), parallel_warnings_.begin(), parallel_warnings_.end());
  lines.push_back(concat(
      "DiT weights: ", offload_.describe(device_->host_accessible()), " ",
      config_.set_by_user("cpu_offload") || config_.set_by_user("lazy_load") ? "[config]" : "[default]",
      "; each model is freed when its stage ends (unload_modules)"));
  lines.push_back(concat("kernels: attention ", registries.attention.resolve(kernels.self_attention), ", mm ",
                         registries.mm.resolve(kernels.mm), ", block linears ", block_mm, ", rms_norm ",
                         registries.rms_norm.resolve(kernels.rms_norm), ", layer_norm ",
                         registries.layer_norm.resolve(kernels.layer_norm), ", rope ",
                         registries.rope.resolve(kernels.rope)));
  const std::string work =
      concat("cost: ", cost_.dit_evaluations, " DiT evaluations of ", cost_.tokens, " tokens (",
             dit_config_.num_layers, " layers, dim ", dit_config_.dim, "), ", format_flops(cost_.dit_flops));
  MeasuredRates rates;
  try {
    rates = measure_rates(*device_, precision.compute, kernels.self_attention, dit_config_.head_dim());
  } catch (const std::exception& error) {
    // The estimate is advice: a device whose kernels cannot be timed this way still runs.
    lines.push_back(
        concat(work, "; no time estimate on ", device_->device_string(), " (", error.what(), ")"));
    return lines;
  }
  const double seconds = rates.dit_seconds(cost_);
  lines.push_back(concat(work, "; about ", format_duration(seconds),
                         " for the DiT at this machine's measured rates", " (matmul ",
                         format_flops(rates.matmul), "/s, attention ", format_flops(rates.attention),
                         "/s; the text encoder and the VAE decode come on top)"));
  if (warnings != nullptr && seconds > 3600)
    warnings->push_back(concat("this run's DiT alone is expected to take about ", format_duration(seconds),
                               "; for a quicker run lower infer_steps, target_video_length or the size",
                               " (configs/wan/wan_t2v_cpu.json is sized for a CPU)"));
  return lines;
}

std::string WanRunner::load_key(const std::string& file) const {
  // What a request may change (LightX2V's request fields and what they set) does not change how a model
  // loads.
  nlohmann::json loading = config_.json();
  for (const char* key :
       {"infer_steps", "seed", "target_video_length", "target_height", "target_width", "sample_guide_scale",
        "sample_shift", "enable_cfg", "sample_neg_prompt", "fps", "denoising_step_list", "sample_solver",
        "feature_caching", "teacache_thresh", "magcache_thresh", "use_ret_steps"})
    loading.erase(key);
  return concat(file, " ", loading.dump(), " DTYPE=", dtype_setting(Precision::from_environment().compute));
}

bool WanRunner::cfg_enabled() const {
  return config_.get_bool("enable_cfg", true);
}

void WanRunner::check_request(const GenerationRequest& request) const {
  if (clean_prompt(request.prompt).empty())
    throw Error("infer", "the prompt is empty; give --prompt \"a description of the video\"");
  if (request.save_result_path.empty()) throw Error("infer", "no output; give --save_result_path out.mp4");
  if (parallel_->is_output_rank()) {  // the other ranks (perhaps on other machines) write nothing
    check_video_path(request.save_result_path);
    if (!request.save_frames_dir.empty()) io::check_frames_folder(request.save_frames_dir);
  }
  if (task_ == "i2v") {
    image_video_shape(request_image(request));  // an image too elongated for the area is named here
  } else if (!request.image_path.empty()) {
    throw Error("infer", "--image_path is for i2v; task t2v takes only a prompt");
  }
  check_dit_stage();
}

void WanRunner::timed_stage(const std::string& name, const std::function<void()>& body) {
  const auto start = std::chrono::steady_clock::now();
  device_->allocator().reset_peak();
  log_info("infer", "stage ", name, ": started");
  body();
  StageReport report{name, seconds_since(start), device_->allocator().stats().peak_bytes};
  // The stage's model and activations are gone; their cached blocks would only sit beside the next
  // stage's (different) sizes, so they go back to the system.
  device_->allocator().release_cache();
  host_device().allocator().release_cache();
  log_info("infer", "stage ", name, ": ", report.seconds, " s, allocator peak ",
           format_bytes(report.allocator_peak_bytes));
  reports_.push_back(report);
}

namespace {

// The prompt's ids, with a warning when text_len cuts it (Wan keeps the first text_len - 1 tokens and EOS).
TokenizedText tokenize_prompt(const T5Tokenizer& tokenizer, const std::string& prompt, const char* what,
                              int64_t text_len) {
  TokenizedText tokens = tokenizer.encode(prompt, text_len);
  if (tokens.untruncated_length > tokens.length)
    log_warn("text encoder", "the ", what, " is ", tokens.untruncated_length, " tokens; text_len ", text_len,
             " keeps the first ", text_len - 1, " and EOS, the rest is cut");
  return tokens;
}

}  // namespace

WanTextContexts WanRunner::encode_text(const std::string& prompt, const std::string& negative_prompt) {
  Device& device = stage_device(config_, "t5_cpu_offload", *device_);
  const T5Tokenizer tokenizer(files_.tokenizer);
  // The encoder lives only inside this function: it is freed before the DiT is loaded.
  log_info("infer", "text encoder ", files_.t5,
           files_.t5_quant_scheme.empty() ? std::string()
                                          : concat(" (t5_quant_scheme ", files_.t5_quant_scheme,
                                                   files_.t5_auto_quant ? ", weight_auto_quant" : "", ")"));
  // t5_lazy_load streams umT5's blocks from disk as lazy_load does the DiT's (it follows lazy_load when
  // unset).
  OffloadOptions t5_offload = offload_;
  t5_offload.lazy_load = config_.get_bool("t5_lazy_load", offload_.lazy_load);
  const std::shared_ptr<T5Encoder> encoder = stage_model<T5Encoder>("text encoder", load_key(files_.t5), [&] {
    return T5Encoder::open(files_.t5, Precision::from_environment(), device,
                           T5LinearOptions{files_.t5_quant_scheme, files_.t5_auto_quant}, t5_offload);
  });
  const bool cfg = cfg_enabled();
  // CFG parallel: each rank encodes only the prompt of the branch it runs.
  const bool conditional = parallel_->cfg() == nullptr || parallel_->cfg_index() == 0;
  const bool unconditional = cfg && (parallel_->cfg() == nullptr || parallel_->cfg_index() == 1);
  Progress progress("text encoder", (conditional ? 1 : 0) + (unconditional ? 1 : 0));
  WanTextContexts contexts;
  if (conditional) {
    contexts.context = encoder->encode(tokenize_prompt(tokenizer, prompt, "prompt", text_len_));
    progress.update(1);
  }
  if (unconditional) {
    std::string negative = negative_prompt;
    if (negative.empty()) negative = config_.get_string("sample_neg_prompt", wan_default_negative_prompt());
    contexts.context_null =
        encoder->encode(tokenize_prompt(tokenizer, negative, "negative prompt", text_len_));
    progress.update(conditional ? 2 : 1);
  }
  return contexts;
}

WanVideoShape WanRunner::image_video_shape(const Tensor& image) const {
  return ti2v_ ? wan_ti2v_video_shape(target_shape_, image.size(1), image.size(2))
               : wan_i2v_video_shape(target_shape_, image.size(1), image.size(2));
}

WanImageConditioning WanRunner::encode_image(const Tensor& image) {
  WanImageConditioning conditioning;
  shape_ = image_video_shape(image);
  if (ti2v_) {
    // TI2V-5B: the image, covered and centre-cropped to the output size, is the first frame's latent.
    Device& device = stage_device(config_, "vae_cpu_offload", *device_);
    const std::unique_ptr<WanVae> vae = WanVae::open(files_.vae_encoder, vae_options_, device);
    conditioning.first_frame_latent = vae->encode(wan_ti2v_first_frame(image, shape_));
    return conditioning;
  }
  if (!files_.clip.empty()) {  // Wan2.2's I2V DiTs take no CLIP features
    Device& device = stage_device(config_, "clip_cpu_offload", *device_);
    log_info("infer", "image encoder ", files_.clip);
    const std::unique_ptr<ClipVisionEncoder> clip =
        ClipVisionEncoder::open(files_.clip, Precision::from_environment(), device,
                                LinearQuantOptions{files_.clip_quant_scheme, files_.clip_auto_quant});
    conditioning.clip_features = clip->encode(image);
  }
  Device& device = stage_device(config_, "vae_cpu_offload", *device_);
  const std::unique_ptr<WanVae> vae = WanVae::open(files_.vae_encoder, vae_options_, device);
  conditioning.y = wan_i2v_y(*vae, image, shape_);
  return conditioning;
}

Tensor WanRunner::sample(const WanTextContexts& contexts, uint64_t seed, const WanImageConditioning* image) {
  WanSamplingInputs inputs;
  const Shape shape = shape_.latent_shape();
  inputs.noise = Tensor::host_from(torch_randn(seed, shape_numel(shape)), shape);
  inputs.context = contexts.context;
  inputs.context_null = contexts.context_null;
  if (image != nullptr) {
    inputs.clip_features = image->clip_features;
    inputs.y = image->y;
    inputs.first_frame_latent = image->first_frame_latent;
  }
  if (!files_.dit_high_noise.empty()) {
    const WanSamplingOptions options = WanSamplingOptions::from_config(config_);
    WanMoeDenoiser denoiser(
        [&](WanExpert expert) {
          const bool high = expert == WanExpert::high_noise;
          // With dit_quantized, each expert's quantized file is its *_quantized_ckpt.
          const char* quantized_key = high ? "high_noise_quantized_ckpt" : "low_noise_quantized_ckpt";
          const bool quantized = config_.get_bool("dit_quantized", false) && config_.has(quantized_key);
          const io::Config expert_config =
              quantized ? config_.merged_with({{"dit_quantized_ckpt", config_.get_string(quantized_key)}})
                        : config_;
          log_info(
              "infer", high ? "high" : "low", "-noise expert ", high ? files_.dit_high_noise : files_.dit,
              quantized ? concat(" (quantized: ", config_.get_string(quantized_key), ")") : std::string());
          std::unique_ptr<WanDit> model =
              WanDitStage::open_model(high ? files_.dit_high_noise : files_.dit, expert_config, *device_);
          model->set_sequence_parallel(parallel_->sequence());
          return model;
        },
        inputs, options, moe_, parallel_->cfg());
    const std::unique_ptr<Sampler> sampler = make_sampler(options.sampler);
    const ParallelTraffic before = parallel_->traffic();
    Tensor latents = run_sampling(denoiser, *sampler, inputs.noise, "sample");
    parallel_->log_sampling_traffic(before, options.step_count());
    return latents;
  }
  const std::shared_ptr<WanDit> model = stage_model<WanDit>(
      "dit", load_key(files_.dit), [&] { return WanDitStage::open_model(files_.dit, config_, *device_); });
  model->set_sequence_parallel(parallel_->sequence());
  const WanSamplingOptions options = WanSamplingOptions::from_config(config_);
  const ParallelTraffic before = parallel_->traffic();
  Tensor latents = sample_wan_latents(*model, inputs, options, parallel_->cfg());
  parallel_->log_sampling_traffic(before, options.step_count());
  return latents;
}

void WanRunner::decode(const Tensor& latents, const std::function<void(const Tensor&)>& sink) {
  Device& device = stage_device(config_, "vae_cpu_offload", *device_);
  if (!files_.tae.empty()) {
    // bf16 as LightX2V's WanVAE_tiny runs it, whatever vae_dtype says (that key is the full VAE's).
    log_info("infer", "TAEHV decoder ", files_.tae, files_.tae_need_scaled ? " (need_scaled)" : "", ", bf16");
    const std::unique_ptr<TaehvDecoder> tae =
        TaehvDecoder::open(files_.tae, device, files_.tae_need_scaled, DType::bf16);
    Progress progress("tae decode", static_cast<int>(4 * latents.shape()[1] - 3));
    int64_t decoded = 0;
    tae->decode(latents, [&](const Tensor& frame) {
      sink(frame);
      progress.update(++decoded);
    });
    return;
  }
  WanVaeOptions options = vae_options_;
  options.patch_group = parallel_->vae();
  const std::shared_ptr<WanVae> vae = stage_model<WanVae>(
      "vae", load_key(files_.vae), [&] { return WanVae::open(files_.vae, options, device); });
  if (files_.lightvae) log_info("infer", "LightVAE decoder ", files_.vae);
  Progress progress("vae decode", static_cast<int>(latents.shape()[1]));
  int64_t decoded = 0;
  vae->decode(latents, [&](const Tensor& frames) {
    sink(frames);
    progress.update(++decoded);
  });
}

void WanRunner::run(const GenerationRequest& request) {
  check_request(request);
  WanTextContexts contexts;
  timed_stage("text encoder", [&] { contexts = encode_text(request.prompt, request.negative_prompt); });
  std::optional<WanImageConditioning> image;
  if (task_ == "i2v") timed_stage("image encoder", [&] { image = encode_image(request_image(request)); });
  Tensor latents;
  timed_stage(
      "dit", [&] { latents = sample(contexts, wan_seed(config_, request.seed), image ? &*image : nullptr); });
  contexts = {};
  image.reset();
  timed_stage("vae decode", [&] {
    if (!parallel_->is_output_rank()) {  // decodes its share, writes nothing
      decode(latents, [](const Tensor&) {});
      return;
    }
    io::VideoOptions video_options;
    video_options.fps = static_cast<int>(fps_);
    io::Mp4Writer video(request.save_result_path, shape_.width, shape_.height, video_options);
    std::unique_ptr<io::PngFrameWriter> frames;
    if (!request.save_frames_dir.empty())
      frames = std::make_unique<io::PngFrameWriter>(request.save_frames_dir);
    decode(latents, [&](const Tensor& chunk) {
      video.write(chunk);
      if (frames) frames->write(chunk);
    });
    // The video first: a frames folder that cannot be swapped in must not cost the finished video.
    video.finish();
    if (frames) frames->finish();
  });
}

void register_wan_runners(RunnerRegistry& registry) {
  for (const char* model_cls : {"wan2.1", "wan2.1_distill", "wan2.2_moe", "wan2.2_moe_distill", "wan2.2"})
    registry.add(RunnerEntry{model_cls, std::vector<std::string>{"t2v", "i2v"},
                             [](const RunnerArguments& arguments, Device& device) {
                               io::Config config =
                                   load_wan_run_config(arguments.model_cls, arguments.task,
                                                       arguments.config_json, arguments.strict);
                               if (!arguments.overrides.empty())
                                 config = config.merged_with(arguments.overrides);
                               auto runner =
                                   std::make_unique<WanRunner>(arguments.model_path, std::move(config),
                                                               device, arguments.model_cls, arguments.task);
                               runner->set_model_cache(arguments.models);
                               return runner;
                             }});
}

}  // namespace x2v
