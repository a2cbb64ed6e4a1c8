#include "models/wan/vae.h"

#include <filesystem>

#include "models/wan/vae_tiling.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {
namespace {

constexpr int64_t kTemporalFactor = 4, kSpatialFactor = 8;

std::string find_vae_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error)) {
    for (const char* candidate : {"Wan2.1_VAE.pth", "vae/diffusion_pytorch_model.safetensors",
                                  "diffusion_pytorch_model.safetensors"}) {
      const fs::path file = fs::path(path) / candidate;
      if (fs::exists(file, error)) return file.string();
    }
    throw Error("wan vae",
                concat(path, " holds neither Wan2.1_VAE.pth nor vae/diffusion_pytorch_model.safetensors;",
                       " pass the VAE file or a model directory holding one of them"));
  }
  if (!fs::exists(path, error))
    throw Error("wan vae", concat(path, " does not exist; expected Wan2.1_VAE.pth, a diffusers vae/ folder",
                                  " or a model directory holding one of them"));
  return path;
}

void check_floating(const char* what, const Tensor& tensor) {
  if (!tensor.defined() || !is_floating(tensor.dtype()))
    throw Error("wan vae", concat(what, " is ", tensor.describe(), "; expected a floating-point tensor"));
}

}  // namespace

const std::vector<float>& WanVae::latent_mean() {
  static const std::vector<float> mean = {-0.7571f, -0.7089f, -0.9113f, 0.1075f,  -0.1745f, 0.9653f,
                                          -0.1517f, 1.5508f,  0.4134f,  -0.0715f, 0.5517f,  -0.3632f,
                                          -0.1922f, -0.9497f, 0.2503f,  -0.2921f};
  return mean;
}

const std::vector<float>& WanVae::latent_std() {
  static const std::vector<float> std = {2.8184f, 1.4541f, 2.3275f, 2.6558f, 1.2196f, 1.7708f,
                                         2.6052f, 2.0743f, 3.2687f, 2.1526f, 2.8652f, 1.5579f,
                                         1.6382f, 1.1253f, 2.8251f, 1.9160f};
  return std;
}

WanVae::WanVae(const io::Checkpoint& checkpoint, const WanVaeOptions& options, Device& device)
    : options_(options), device_(&device) {
  const WanVaeCheckpoint weights(checkpoint);
  config_ = weights.config();
  if (config_.z_dim != static_cast<int64_t>(latent_mean().size()))
    throw Error("wan vae", concat(checkpoint.path(), " has z_dim ", config_.z_dim,
                                  "; the Wan2.1 VAE (and its latent mean/std) has 16 latent channels"));
  if (options.dtype != DType::f32 && options.dtype != DType::bf16)
    throw Error("wan vae", concat("dtype ", dtype_name(options.dtype), " is not supported; use f32 or bf16"));
  if (options.tiling)
    VaeTilePlan::make(1, 1, options.tile_sample_size, options.tile_sample_stride);  // checks
  const VaeContext context{&device, options.dtype, options.conv_kernel, options.mm_kernel,
                           options.attention_kernel};
  encoder_ = std::make_unique<WanVaeEncoder>(weights, context);
  decoder_ = std::make_unique<WanVaeDecoder>(weights, context);
}

std::unique_ptr<WanVae> WanVae::open(const std::string& path, const WanVaeOptions& options, Device& device) {
  // Loaded weights keep their file mapping alive, so the checkpoint object may go.
  const std::unique_ptr<io::Checkpoint> checkpoint = io::open_checkpoint(find_vae_file(path));
  return std::make_unique<WanVae>(*checkpoint, options, device);
}

Tensor WanVae::denormalized(const Tensor& latent_frame) const {
  // z = z_norm * std + mean, channel by channel (each channel is one contiguous block).
  const Tensor source = ops::to_device(latent_frame, *device_);
  Tensor z = empty(source.shape(), DType::f32, *device_);
  for (int64_t c = 0; c < config_.z_dim; ++c) {
    Tensor channel = z.select(0, c);
    ops::scale(source.select(0, c), latent_std()[c], latent_mean()[c], channel);
  }
  return z;
}

Tensor WanVae::finished(const Tensor& frames) const {
  Tensor clamped = empty(frames.shape(), DType::f32, *device_);
  ops::clamp(frames, -1.0f, 1.0f, clamped);
  return ops::to_device(clamped, host_device());
}

void WanVae::decode(const Tensor& latents, const FrameSink& sink) const {
  check_floating("latents", latents);
  if (latents.ndim() != 4 || latents.size(0) != config_.z_dim || latents.numel() == 0)
    throw Error("wan vae", concat("latents are ", latents.describe(), "; expected [", config_.z_dim,
                                  ", frames, height, width] with at least one frame"));
  if (options_.tiling && VaeTilePlan::needed(latents.size(2), latents.size(3), options_.tile_sample_size))
    return decode_tiled(latents, sink);
  VaeStream stream = decoder_->new_stream();
  for (int64_t t = 0; t < latents.size(1); ++t) {
    const Tensor frames = decoder_->decode_chunk(denormalized(latents.slice(1, t, t + 1)), stream);
    sink(finished(frames));
  }
}

void WanVae::decode_tiled(const Tensor& latents, const FrameSink& sink) const {
  const int64_t height = latents.size(2), width = latents.size(3);
  const VaeTilePlan plan =
      VaeTilePlan::make(height, width, options_.tile_sample_size, options_.tile_sample_stride);
  // One causal stream per tile, all advanced together one latent frame at a time.
  std::vector<std::vector<VaeStream>> streams(plan.rows.size());
  for (auto& row : streams)
    for (size_t j = 0; j < plan.columns.size(); ++j) row.push_back(decoder_->new_stream());
  for (int64_t t = 0; t < latents.size(1); ++t) {
    const Tensor z = denormalized(latents.slice(1, t, t + 1));
    std::vector<std::vector<Tensor>> tiles(plan.rows.size());
    for (size_t i = 0; i < plan.rows.size(); ++i)
      for (size_t j = 0; j < plan.columns.size(); ++j) {
        const int64_t top = plan.rows[i], left = plan.columns[j];
        const Tensor tile = z.slice(2, top, std::min(top + plan.latent_tile, height))
                                .slice(3, left, std::min(left + plan.latent_tile, width));
        tiles[i].push_back(decoder_->decode_chunk(ops::contiguous(tile), streams[i][j]));
      }
    sink(finished(assemble_vae_tiles(tiles, plan, height * kSpatialFactor, width * kSpatialFactor)));
  }
}

Tensor WanVae::decode(const Tensor& latents) const {
  check_floating("latents", latents);
  const int64_t frames = latents.ndim() == 4 ? 1 + kTemporalFactor * (latents.size(1) - 1) : 0;
  Tensor video;
  int64_t written = 0;
  decode(latents, [&](const Tensor& chunk) {
    if (!video.defined())
      video = Tensor::host({chunk.size(0), frames, chunk.size(2), chunk.size(3)}, DType::f32);
    Tensor target = video.slice(1, written, written + chunk.size(1));
    ops::copy(chunk, target);
    written += chunk.size(1);
  });
  if (written != frames)
    throw InternalError("wan vae", concat("decoded ", written, " frames, expected ", frames));
  return video;
}

Tensor WanVae::encode(const Tensor& video) const {
  check_floating("video", video);
  if (video.ndim() != 4 || video.size(0) != 3)
    throw Error("wan vae", concat("video is ", video.describe(), "; expected [3, frames, height, width]"));
  const int64_t frames = video.size(1), height = video.size(2), width = video.size(3);
  if (frames < 1)
    throw Error("wan vae", "the video has no frames; the VAE encodes 4n+1 frames (1, 5, 9, ...)");
  if (const int64_t extra = (frames - 1) % kTemporalFactor; extra != 0)
    throw Error("wan vae",
                concat("the video has ", frames, " frames; the VAE encodes 4n+1 frames (1, 5, 9, ...): drop ",
                       extra, " or add ", kTemporalFactor - extra));
  if (height < kSpatialFactor || width < kSpatialFactor || height % kSpatialFactor || width % kSpatialFactor)
    throw Error("wan vae", concat("the video is ", width, "x", height,
                                  "; width and height must be multiples of 8 (resize or crop it)"));
  const int64_t latent_frames = 1 + (frames - 1) / kTemporalFactor;
  Tensor latents = Tensor::host(
      {config_.z_dim, latent_frames, height / kSpatialFactor, width / kSpatialFactor}, DType::f32);
  VaeStream stream = encoder_->new_stream();
  for (int64_t i = 0; i < latent_frames; ++i) {
    const int64_t first = i == 0 ? 0 : 1 + kTemporalFactor * (i - 1), last = 1 + kTemporalFactor * i;
    const Tensor mu = encoder_->encode_chunk(ops::to_device(video.slice(1, first, last), *device_), stream);
    // z_norm = (mu - mean) / std, channel by channel.
    Tensor normalized = empty(mu.shape(), DType::f32, *device_);
    for (int64_t c = 0; c < config_.z_dim; ++c) {
      Tensor channel = normalized.select(0, c);
      const float inverse_std = 1.0f / latent_std()[c];
      ops::scale(mu.select(0, c), inverse_std, -latent_mean()[c] * inverse_std, channel);
    }
    Tensor target = latents.slice(1, i, i + 1);
    ops::copy(ops::to_device(normalized, host_device()), target);
  }
  return latents;
}

}  // namespace x2v
