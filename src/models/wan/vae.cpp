#include "models/wan/vae.h"

#include <filesystem>

#include "core/log.h"
#include "models/wan/vae_tiling.h"
#include "parallel/patch_grid.h"
#include "platform/allocator.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {
namespace {

constexpr int64_t kTemporalFactor = 4, kSpatialFactor = 8;

std::string find_vae_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error)) {
    for (const char* candidate :
         {"Wan2.1_VAE.pth", "Wan2.2_VAE.pth", "vae/diffusion_pytorch_model.safetensors",
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

const std::vector<float>& WanVae::wan22_latent_mean() {
  static const std::vector<float> mean = {
      -0.2289f, -0.0052f, -0.1323f, -0.2339f, -0.2799f, 0.0174f,  0.1838f,  0.1557f,  -0.1382f, 0.0542f,
      0.2813f,  0.0891f,  0.1570f,  -0.0098f, 0.0375f,  -0.1825f, -0.2246f, -0.1207f, -0.0698f, 0.5109f,
      0.2665f,  -0.2108f, -0.2158f, 0.2502f,  -0.2055f, -0.0322f, 0.1109f,  0.1567f,  -0.0729f, 0.0899f,
      -0.2799f, -0.1230f, -0.0313f, -0.1649f, 0.0117f,  0.0723f,  -0.2839f, -0.2083f, -0.0520f, 0.3748f,
      0.0152f,  0.1957f,  0.1433f,  -0.2944f, 0.3573f,  -0.0548f, -0.1681f, -0.0667f};
  return mean;
}

const std::vector<float>& WanVae::wan22_latent_std() {
  static const std::vector<float> std = {
      0.4765f, 1.0364f, 0.4514f, 1.1677f, 0.5313f, 0.4990f, 0.4818f, 0.5013f, 0.8158f, 1.0344f,
      0.5894f, 1.0901f, 0.6885f, 0.6165f, 0.8454f, 0.4978f, 0.5759f, 0.3523f, 0.7135f, 0.6804f,
      0.5833f, 1.4146f, 0.8986f, 0.5659f, 0.7069f, 0.5338f, 0.4889f, 0.4917f, 0.4069f, 0.4999f,
      0.6866f, 0.4093f, 0.5709f, 0.6065f, 0.6415f, 0.4944f, 0.5726f, 1.2042f, 0.5458f, 1.6887f,
      0.3971f, 1.0600f, 0.3943f, 0.5537f, 0.5444f, 0.4089f, 0.7468f, 0.7744f};
  return std;
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
  mean_ = &(config_.wan22() ? wan22_latent_mean() : latent_mean());
  std_ = &(config_.wan22() ? wan22_latent_std() : latent_std());
  if (config_.z_dim != static_cast<int64_t>(mean_->size()))
    throw Error("wan vae", concat(checkpoint.path(), " has z_dim ", config_.z_dim, "; the ",
                                  config_.wan22() ? "Wan2.2 VAE has 48" : "Wan2.1 VAE has 16",
                                  " latent channels (its latent mean and std are fixed)"));
  if (options.tiling && config_.wan22())
    throw Error("wan vae",
                "use_tiling_vae tiles the Wan2.1 VAE's decode; the Wan2.2 VAE decodes whole frames");
  if (options.dtype != DType::f32 && options.dtype != DType::bf16)
    throw Error("wan vae", concat("dtype ", dtype_name(options.dtype), " is not supported; use f32 or bf16"));
  if (options.tiling)
    VaeTilePlan::make(1, 1, options.tile_sample_size, options.tile_sample_stride);  // checks
  if (options.tiling && options.patch_group != nullptr)
    throw Error("wan vae", "use_tiling_vae and vae_parallel both split the decode; set one of them to false");
  VaeContext context{&device, options.dtype, options.conv_kernel, options.mm_kernel,
                     options.attention_kernel};
  encoder_ = std::make_unique<WanVaeEncoder>(weights, context);
  context.halo_padding = options.patch_group != nullptr;
  decoder_ = std::make_unique<WanVaeDecoder>(weights, context);
}

std::unique_ptr<WanVae> WanVae::open(const std::string& path, const WanVaeOptions& options, Device& device) {
  // Loaded weights keep their file mapping alive, so the checkpoint object may go.
  const std::unique_ptr<io::Checkpoint> checkpoint = io::open_checkpoint(find_vae_file(path));
  return std::make_unique<WanVae>(*checkpoint, options, device);
}

WanVaeConfig WanVae::read_config(const std::string& path) {
  const std::unique_ptr<io::Checkpoint> checkpoint = io::open_checkpoint(find_vae_file(path));
  return WanVaeCheckpoint(*checkpoint).config();
}

Tensor WanVae::denormalized(const Tensor& latent_frame) const {
  // z = z_norm * std + mean, channel by channel (each channel is one contiguous block).
  const Tensor source = ops::to_device(latent_frame, *device_);
  Tensor z = empty(source.shape(), DType::f32, *device_);
  for (int64_t c = 0; c < config_.z_dim; ++c) {
    Tensor channel = z.select(0, c);
    ops::scale(source.select(0, c), (*std_)[c], (*mean_)[c], channel);
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
  if (options_.patch_group != nullptr) return decode_patches(latents, sink);
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

void WanVae::decode_patches(const Tensor& latents, const FrameSink& sink) const {
  const PatchGrid grid(*options_.patch_group, latents.size(2), latents.size(3));
  log_info("wan vae", "decoding ", latents.size(2), "x", latents.size(3), " latents in ", grid.rows(), "x",
           grid.columns(), " patches over ", options_.patch_group->size(), " ranks (",
           options_.patch_group->backend(), ")");
  VaeStream stream = decoder_->new_stream();
  stream.set_split(&grid);
  const size_t sent_before = options_.patch_group->bytes_sent();
  int64_t frames = 0;
  for (int64_t t = 0; t < latents.size(1); ++t) {
    const Tensor tile = grid.tile(denormalized(latents.slice(1, t, t + 1)));
    const Tensor decoded = finished(grid.whole(decoder_->decode_chunk(tile, stream)));
    frames += decoded.size(1);
    sink(decoded);
  }
  log_info("wan vae", "patch parallel: rank ", options_.patch_group->rank(), " sent ",
           format_bytes((options_.patch_group->bytes_sent() - sent_before) / static_cast<size_t>(frames)),
           " a video frame (halos, the middle attention's frames, the decoded tiles)");
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
  const int64_t factor = config_.spatial_factor();
  if (height < factor || width < factor || height % factor || width % factor)
    throw Error("wan vae", concat("the video is ", width, "x", height,
                                  "; width and height must be multiples of ", factor, " for the ",
                                  config_.wan22() ? "Wan2.2" : "Wan2.1", " VAE (resize or crop it)"));
  const int64_t latent_frames = 1 + (frames - 1) / kTemporalFactor;
  Tensor latents = Tensor::host({config_.z_dim, latent_frames, height / factor, width / factor}, DType::f32);
  VaeStream stream = encoder_->new_stream();
  for (int64_t i = 0; i < latent_frames; ++i) {
    const int64_t first = i == 0 ? 0 : 1 + kTemporalFactor * (i - 1), last = 1 + kTemporalFactor * i;
    const Tensor mu = encoder_->encode_chunk(ops::to_device(video.slice(1, first, last), *device_), stream);
    // z_norm = (mu - mean) / std, channel by channel.
    Tensor normalized = empty(mu.shape(), DType::f32, *device_);
    for (int64_t c = 0; c < config_.z_dim; ++c) {
      Tensor channel = normalized.select(0, c);
      const float inverse_std = 1.0f / (*std_)[c];
      ops::scale(mu.select(0, c), inverse_std, -(*mean_)[c] * inverse_std, channel);
    }
    Tensor target = latents.slice(1, i, i + 1);
    ops::copy(ops::to_device(normalized, host_device()), target);
  }
  return latents;
}

}  // namespace x2v
