#include "models/wan/clip_encoder.h"

#include "models/wan/clip_weights.h"

#include <filesystem>

#include "core/error.h"
#include "core/text.h"
#include "io/image_resize.h"
#include "platform/ops.h"
#include "platform/platform.h"
#include "quant/quant_kernels.h"
#include "quant/quantize.h"
#include "quant/quantized_linear.h"

namespace x2v {

struct ClipVisionEncoder::Block {
  std::unique_ptr<LayerNormKernel> norm1, norm2;
  Linear qkv, projection, mlp_in, mlp_out;
  std::unique_ptr<AttentionKernel> attention;
};

namespace {

constexpr int64_t kHeadDim = 80;  // ViT-H/14: 1280 wide, 16 heads
// CLIP's pixel normalization (open-CLIP's OPENAI_DATASET_MEAN / _STD).
constexpr float kPixelMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr float kPixelStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

}  // namespace

std::string wan_quantized_clip_file(const std::string& scheme) {
  const std::string format = scheme.substr(0, scheme.find('-'));
  return concat("models_clip_open-clip-xlm-roberta-large-vit-huge-14-", format, ".pth");
}

ClipVisionEncoder::ClipVisionEncoder(const io::Checkpoint& checkpoint, Precision precision, Device& device,
                                     const LinearQuantOptions& linears)
    : precision_(precision), device_(&device) {
  const ClipVisualWeights tensors(checkpoint);
  ClipVisionConfig& c = config_;
  const Shape patch = tensors.shape("patch_embedding.weight");
  if (patch.size() != 4 || patch[1] != 3 || patch[2] != patch[3])
    throw Error("clip", concat("patch_embedding.weight of ", checkpoint.path(), " has shape ",
                               shape_to_string(patch), "; expected [dim, 3, patch, patch]"));
  c.dim = patch[0];
  c.patch_size = patch[2];
  if (c.dim % kHeadDim != 0)
    throw Error("clip",
                concat("the visual tower is ", c.dim, " wide, not a multiple of ViT-H/14's head width ",
                       kHeadDim, "; only Wan's CLIP (open-clip-xlm-roberta-large-vit-huge-14) is supported"));
  c.num_heads = c.dim / kHeadDim;
  const Shape positions = tensors.shape("pos_embedding");
  const int64_t tokens = positions.empty() ? 0 : positions[positions.size() - 2];
  int64_t grid = 0;
  while ((grid + 1) * (grid + 1) + 1 <= tokens) ++grid;
  if (grid * grid + 1 != tokens)
    throw Error("clip", concat("pos_embedding of ", checkpoint.path(), " has shape ",
                               shape_to_string(positions), "; expected [1, grid^2 + 1, dim]"));
  c.image_size = grid * c.patch_size;
  c.num_layers = 0;
  while (tensors.contains(concat("transformer.", c.num_layers, ".norm1.weight"))) ++c.num_layers;
  if (c.num_layers < 2)
    throw Error("clip", concat(checkpoint.path(), " has ", c.num_layers,
                               " transformer blocks; I2V takes the output of all but the last"));
  c.mlp_dim = tensors.shape("transformer.0.mlp.0.weight").at(0);

  const DType compute = precision.compute;
  const QuantFormat format = mm_kernel_format(device, linears.scheme, "clip_quant_scheme");
  patch_embedding_ = device.kernels().conv.create("");
  ConvOptions patch_options;
  patch_options.spatial_dims = 2;
  patch_options.stride = {c.patch_size, c.patch_size};
  patch_embedding_->load(ops::to_device(tensors.load("patch_embedding.weight", patch, DType::f32), device),
                         Tensor(), patch_options);
  class_embedding_ =
      ops::to_device(tensors.load("cls_embedding", {1, 1, c.dim}, DType::f32).reshape({c.dim}), device);
  position_embedding_ = ops::to_device(
      tensors.load("pos_embedding", {1, tokens, c.dim}, DType::f32).reshape({tokens, c.dim}), device);
  const auto norm = [&](const std::string& name, int64_t width) {
    std::unique_ptr<LayerNormKernel> kernel = device.kernels().layer_norm.create("");
    kernel->load(ops::to_device(tensors.load(name + ".weight", {width}, DType::f32), device),
                 ops::to_device(tensors.load(name + ".bias", {width}, DType::f32), device), c.eps);
    return kernel;
  };
  pre_norm_ = norm("pre_norm", c.dim);
  // I2V never runs the last block: it is not loaded.
  for (int64_t i = 0; i + 1 < c.num_layers; ++i) {
    auto block = std::make_unique<Block>();
    const std::string name = concat("transformer.", i, ".");
    block->norm1 = norm(name + "norm1", c.dim);
    block->norm2 = norm(name + "norm2", c.dim);
    const auto linear = [&](Linear& layer, const std::string& part, int64_t out, int64_t in) {
      const std::string weight = name + part + ".weight";
      const Tensor bias = ops::to_device(tensors.load(name + part + ".bias", {out}, compute), device);
      const io::TensorInfo info = tensors.info(weight);
      const QuantFormat stored =
          info.dtype && !tensors.diffusers() ? quant_format_of(*info.dtype) : QuantFormat::none;
      if (format == QuantFormat::none) {
        if (stored != QuantFormat::none)
          throw Error("clip",
                      concat("tensor '", tensors.file_name(weight), "' is ", quant_format_name(stored), ": ",
                             checkpoint.path(), " is a quantized CLIP; set clip_quantized true and ",
                             "clip_quant_scheme (", quant_format_name(stored), "-vllm, ...)"));
        layer.load(device, linears.scheme, ops::to_device(tensors.load(weight, {out, in}, compute), device),
                   bias);
        return;
      }
      if (tensors.diffusers()) {
        // diffusers' image_encoder/ is float (and q, k, v apart): quantized here or not at all.
        if (!linears.auto_quant)
          throw Error("clip", concat(checkpoint.path(), " is a diffusers image_encoder/ of float weights; ",
                                     "clip_quantized needs weight_auto_quant to quantize them at load"));
        const QuantizedWeight quantized =
            quantize_weight(tensors.load(weight, {out, in}, DType::f32), format);
        layer.load_quantized(device, linears.scheme,
                             QuantizedWeight{ops::to_device(quantized.weight, device),
                                             ops::to_device(quantized.scale, device)},
                             bias);
        return;
      }
      const QuantizedLinearRequest request = quantized_linear_request(
          tensors.file_name(weight), {out, in}, format, linears.scheme, "clip", "clip", linears.auto_quant);
      if (info.shape != Shape{out, in})
        throw Error("clip",
                    concat("tensor '", request.weight_name, "' of ", checkpoint.path(), " has shape ",
                           shape_to_string(info.shape), ", expected ", shape_to_string(request.shape)));
      layer.load_quantized(device, linears.scheme, read_quantized_linear(checkpoint, request, device), bias);
    };
    linear(block->qkv, "attn.to_qkv", 3 * c.dim, c.dim);
    linear(block->projection, "attn.proj", c.dim, c.dim);
    linear(block->mlp_in, "mlp.0", c.mlp_dim, c.dim);
    linear(block->mlp_out, "mlp.2", c.dim, c.mlp_dim);
    block->attention = device.kernels().attention.create("");
    block->attention->load(AttentionOptions{});  // 1/sqrt(head_dim)
    blocks_.push_back(std::move(block));
  }
}

ClipVisionEncoder::~ClipVisionEncoder() = default;

std::unique_ptr<ClipVisionEncoder> ClipVisionEncoder::open(const std::string& path, Precision precision,
                                                           Device& device,
                                                           const LinearQuantOptions& linears) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::path target(path);
  if (!fs::exists(target, error))
    throw Error("clip",
                concat("'", path, "' does not exist; give ", kWanClipFile, " or the Wan I2V model folder"));
  if (fs::is_directory(target, error)) {
    // Wan's file in a model folder, else diffusers' image_encoder/ (the folder itself or inside a model
    // folder).
    if (fs::exists(target / kWanClipFile, error))
      target /= kWanClipFile;
    else if (fs::is_directory(target / "image_encoder", error))
      target /= "image_encoder";
    else if (!fs::exists(target / "model.safetensors", error) &&
             !fs::exists(target / "model.safetensors.index.json", error))
      throw Error("clip", concat("folder '", path, "' has no ", kWanClipFile,
                                 " and no image_encoder/; I2V needs Wan's CLIP image encoder (shipped with "
                                 "Wan2.1-I2V-14B) or clip_original_ckpt naming it"));
  }
  const std::unique_ptr<io::Checkpoint> checkpoint = io::open_checkpoint(target.string());
  return std::make_unique<ClipVisionEncoder>(*checkpoint, precision, device, linears);
}

Tensor ClipVisionEncoder::preprocess(const Tensor& image) const {
  if (!image.defined() || image.ndim() != 3 || image.size(0) != 3)
    throw Error("clip", concat("image is ", image.describe(), "; expected [3, H, W] in [-1, 1]"));
  const int64_t size = config_.image_size;
  Tensor pixels = io::resize_bicubic(image, size, size);
  float* values = pixels.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < size * size; ++i) {
      float& value = values[c * size * size + i];
      value = (value * 0.5f + 0.5f - kPixelMean[c]) / kPixelStd[c];
    }
  return pixels;
}

void ClipVisionEncoder::run_block(const Block& block, Tensor& x) const {
  Device& device = *device_;
  const int64_t tokens = x.size(0), dim = config_.dim, heads = config_.num_heads;
  const DType compute = precision_.compute;
  Tensor normed = empty({tokens, dim}, compute, device);
  block.norm1->apply(x, normed);
  {
    // to_qkv's output is [q | k | v], each [heads, head_dim] per token.
    const Tensor qkv = block.qkv.forward(normed, compute).reshape({tokens, 3, heads, kHeadDim});
    const auto part = [&](int64_t which) { return qkv.select(1, which).permute({1, 0, 2}); };
    Tensor attended = empty({tokens, dim}, compute, device);
    Tensor attended_heads = attended.reshape({tokens, heads, kHeadDim}).permute({1, 0, 2});
    block.attention->apply(part(0), part(1), part(2), attended_heads);
    ops::add(x, block.projection.forward(attended, compute), x);
  }
  block.norm2->apply(x, normed);
  Tensor hidden = block.mlp_in.forward(normed, compute);
  ops::gelu(hidden, hidden, /*tanh_approximation=*/false);
  ops::add(x, block.mlp_out.forward(hidden, compute), x);
}

Tensor ClipVisionEncoder::forward(const Tensor& pixels, int64_t blocks) const {
  const ClipVisionConfig& c = config_;
  if (!pixels.defined() || pixels.shape() != Shape{3, c.image_size, c.image_size})
    throw Error("clip", concat("pixels are ", pixels.describe(), "; expected [3, ", c.image_size, ", ",
                               c.image_size, "] (preprocess() makes them)"));
  const int64_t available = static_cast<int64_t>(blocks_.size());
  if (blocks < 0) blocks = available;
  if (blocks > available)
    throw Error("clip", concat("asked for ", blocks, " blocks; the encoder loads the first ", available));
  Device& device = *device_;
  const int64_t tokens = c.tokens(), grid = c.image_size / c.patch_size;
  Tensor patches = empty({c.dim, grid, grid}, DType::f32, device);
  patch_embedding_->apply(ops::to_device(pixels.to_host(DType::f32), device), patches);
  // [class ; patches] + positions, then the pre-norm; the residual stream stays in precision.sensitive.
  Tensor embedded = empty({tokens, c.dim}, DType::f32, device);
  Tensor first = embedded.select(0, 0), rest = embedded.slice(0, 1, tokens);
  ops::copy(class_embedding_, first);
  ops::copy(patches.reshape({c.dim, grid * grid}).permute({1, 0}), rest);
  ops::add(embedded, position_embedding_, embedded);
  Tensor x = empty({tokens, c.dim}, precision_.sensitive, device);
  pre_norm_->apply(embedded, x);
  for (int64_t i = 0; i < blocks; ++i) run_block(*blocks_[static_cast<size_t>(i)], x);
  return ops::to_device(x, host_device()).to_host(DType::f32);
}

}  // namespace x2v
