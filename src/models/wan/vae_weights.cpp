#include "models/wan/vae_weights.h"

#include "platform/ops.h"

namespace x2v {
namespace {

constexpr int64_t kDimMult[] = {1, 2, 4, 4};
constexpr int kResidualBlocks = 2;
constexpr bool kTemporalDownsample[] = {false, true, true};  // per stage boundary, encoder order

// Replaces a leading `from` (if present) by `to`.
bool rename_prefix(std::string& name, const std::string& from, const std::string& to) {
  if (!name.starts_with(from)) return false;
  name = to + name.substr(from.size());
  return true;
}

// Names inside a residual block or the head, after the block prefix.
std::string diffusers_block_part(const std::string& part) {
  std::string name = part;
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"residual.0.", "norm1."},
                                                        {"residual.2.", "conv1."},
                                                        {"residual.3.", "norm2."},
                                                        {"residual.6.", "conv2."},
                                                        {"shortcut.", "conv_shortcut."}})
    if (rename_prefix(name, from, to)) break;
  return name;
}

// "3.time_conv.weight" -> {3, "time_conv.weight"}
std::pair<int64_t, std::string> split_index(const std::string& text) {
  const size_t dot = text.find('.');
  return {std::stoll(text.substr(0, dot)), text.substr(dot + 1)};
}

void add_residual(std::vector<std::pair<std::string, Shape>>& shapes, const std::string& prefix, int64_t in,
                  int64_t out) {
  shapes.push_back({prefix + "residual.0.gamma", {in, 1, 1, 1}});
  shapes.push_back({prefix + "residual.2.weight", {out, in, 3, 3, 3}});
  shapes.push_back({prefix + "residual.2.bias", {out}});
  shapes.push_back({prefix + "residual.3.gamma", {out, 1, 1, 1}});
  shapes.push_back({prefix + "residual.6.weight", {out, out, 3, 3, 3}});
  shapes.push_back({prefix + "residual.6.bias", {out}});
  if (in != out) {
    shapes.push_back({prefix + "shortcut.weight", {out, in, 1, 1, 1}});
    shapes.push_back({prefix + "shortcut.bias", {out}});
  }
}

void add_middle(std::vector<std::pair<std::string, Shape>>& shapes, const std::string& prefix, int64_t c) {
  add_residual(shapes, prefix + "middle.0.", c, c);
  shapes.push_back({prefix + "middle.1.norm.gamma", {c, 1, 1}});
  shapes.push_back({prefix + "middle.1.to_qkv.weight", {3 * c, c, 1, 1}});
  shapes.push_back({prefix + "middle.1.to_qkv.bias", {3 * c}});
  shapes.push_back({prefix + "middle.1.proj.weight", {c, c, 1, 1}});
  shapes.push_back({prefix + "middle.1.proj.bias", {c}});
  add_residual(shapes, prefix + "middle.2.", c, c);
}

void add_plan(std::vector<std::pair<std::string, Shape>>& shapes, const std::string& prefix,
              const std::vector<VaeLayerPlan>& plan) {
  for (size_t i = 0; i < plan.size(); ++i) {
    const VaeLayerPlan& layer = plan[i];
    const std::string name = concat(prefix, i, ".");
    const int64_t c = layer.in_channels;
    switch (layer.kind) {
      case VaeLayerKind::residual:
        add_residual(shapes, name, layer.in_channels, layer.out_channels);
        break;
      case VaeLayerKind::upsample3d:
        shapes.push_back({name + "time_conv.weight", {2 * c, c, 3, 1, 1}});
        shapes.push_back({name + "time_conv.bias", {2 * c}});
        [[fallthrough]];
      case VaeLayerKind::upsample2d:
        shapes.push_back({name + "resample.1.weight", {layer.out_channels, c, 3, 3}});
        shapes.push_back({name + "resample.1.bias", {layer.out_channels}});
        break;
      case VaeLayerKind::downsample2d:
      case VaeLayerKind::downsample3d:
        shapes.push_back({name + "resample.1.weight", {c, c, 3, 3}});
        shapes.push_back({name + "resample.1.bias", {c}});
        if (layer.kind == VaeLayerKind::downsample3d) {
          shapes.push_back({name + "time_conv.weight", {c, c, 3, 1, 1}});
          shapes.push_back({name + "time_conv.bias", {c}});
        }
        break;
    }
  }
}

// From the encoder's middle to the decoder's: the encoder's middle and head, conv1 and conv2 around the
// latent, the decoder's conv1 and middle.
void add_bottleneck(std::vector<std::pair<std::string, Shape>>& shapes, int64_t encoder_deepest,
                    int64_t decoder_deepest, int64_t z_dim) {
  add_middle(shapes, "encoder.", encoder_deepest);
  shapes.insert(shapes.end(), {{"encoder.head.0.gamma", {encoder_deepest, 1, 1, 1}},
                               {"encoder.head.2.weight", {2 * z_dim, encoder_deepest, 3, 3, 3}},
                               {"encoder.head.2.bias", {2 * z_dim}},
                               {"conv1.weight", {2 * z_dim, 2 * z_dim, 1, 1, 1}},
                               {"conv1.bias", {2 * z_dim}},
                               {"conv2.weight", {z_dim, z_dim, 1, 1, 1}},
                               {"conv2.bias", {z_dim}},
                               {"decoder.conv1.weight", {decoder_deepest, z_dim, 3, 3, 3}},
                               {"decoder.conv1.bias", {decoder_deepest}}});
  add_middle(shapes, "decoder.", decoder_deepest);
}

}  // namespace

std::string WanVaeConfig::describe() const {
  if (wan22()) return concat("Wan2.2 VAE dim ", dim, " (decoder ", decoder_dim, "), z_dim ", z_dim);
  return concat("Wan2.1 VAE dim ", dim, ", z_dim ", z_dim);
}

std::vector<VaeLayerPlan> wan_vae_encoder_plan(int64_t dim) {
  std::vector<VaeLayerPlan> plan;
  int64_t in = dim;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t out = dim * kDimMult[stage];
    for (int block = 0; block < kResidualBlocks; ++block) {
      plan.push_back({VaeLayerKind::residual, in, out});
      in = out;
    }
    if (stage != 3) {
      const VaeLayerKind kind =
          kTemporalDownsample[stage] ? VaeLayerKind::downsample3d : VaeLayerKind::downsample2d;
      plan.push_back({kind, out, out});
    }
  }
  return plan;
}

std::vector<VaeLayerPlan> wan_vae_decoder_plan(int64_t dim) {
  // Stages run from the deepest width back to dim; each upsample halves the width it hands on.
  const int64_t widths[] = {dim * kDimMult[3], dim * kDimMult[3], dim * kDimMult[2], dim * kDimMult[1],
                            dim * kDimMult[0]};
  std::vector<VaeLayerPlan> plan;
  for (int stage = 0; stage < 4; ++stage) {
    int64_t in = stage == 0 ? widths[0] : widths[stage] / 2;
    const int64_t out = widths[stage + 1];
    for (int block = 0; block < kResidualBlocks + 1; ++block) {
      plan.push_back({VaeLayerKind::residual, in, out});
      in = out;
    }
    if (stage != 3) {
      const VaeLayerKind kind =
          kTemporalDownsample[2 - stage] ? VaeLayerKind::upsample3d : VaeLayerKind::upsample2d;
      plan.push_back({kind, out, out / 2});
    }
  }
  return plan;
}

std::vector<std::pair<std::string, Shape>> wan_vae_tensor_shapes(int64_t dim, int64_t z_dim) {
  const int64_t deepest = dim * kDimMult[3];
  std::vector<std::pair<std::string, Shape>> shapes = {{"encoder.conv1.weight", {dim, 3, 3, 3, 3}},
                                                       {"encoder.conv1.bias", {dim}}};
  add_plan(shapes, "encoder.downsamples.", wan_vae_encoder_plan(dim));
  add_bottleneck(shapes, deepest, deepest, z_dim);
  add_plan(shapes, "decoder.upsamples.", wan_vae_decoder_plan(dim));
  shapes.insert(shapes.end(), {{"decoder.head.0.gamma", {dim, 1, 1, 1}},
                               {"decoder.head.2.weight", {3, dim, 3, 3, 3}},
                               {"decoder.head.2.bias", {3}}});
  return shapes;
}

std::vector<std::pair<std::string, Shape>> wan22_vae_tensor_shapes(int64_t dim, int64_t decoder_dim,
                                                                   int64_t z_dim) {
  std::vector<std::pair<std::string, Shape>> shapes = {{"encoder.conv1.weight", {dim, 12, 3, 3, 3}},
                                                       {"encoder.conv1.bias", {dim}}};
  // Each stage's residual blocks and resample under "<stage>.downsamples." / ".upsamples." (the shortcuts
  // hold no weights); the stages follow the encoder and decoder plans of Wan2.1 with Wan2.2's widths.
  int64_t in = dim;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t out = dim * kDimMult[stage];
    const std::string prefix = concat("encoder.downsamples.", stage, ".downsamples.");
    std::vector<VaeLayerPlan> inner = {{VaeLayerKind::residual, in, out}, {VaeLayerKind::residual, out, out}};
    if (stage != 3)
      inner.push_back(
          {kTemporalDownsample[stage] ? VaeLayerKind::downsample3d : VaeLayerKind::downsample2d, out, out});
    add_plan(shapes, prefix, inner);
    in = out;
  }
  const int64_t deepest = dim * kDimMult[3], decoder_deepest = decoder_dim * kDimMult[3];
  add_bottleneck(shapes, deepest, decoder_deepest, z_dim);
  const int64_t widths[] = {decoder_deepest, decoder_deepest, decoder_dim * kDimMult[2],
                            decoder_dim * kDimMult[1], decoder_dim * kDimMult[0]};
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t from = widths[stage], out = widths[stage + 1];
    std::vector<VaeLayerPlan> inner = {{VaeLayerKind::residual, from, out},
                                       {VaeLayerKind::residual, out, out},
                                       {VaeLayerKind::residual, out, out}};
    if (stage != 3)
      inner.push_back(
          {kTemporalDownsample[2 - stage] ? VaeLayerKind::upsample3d : VaeLayerKind::upsample2d, out, out});
    add_plan(shapes, concat("decoder.upsamples.", stage, ".upsamples."), inner);
  }
  shapes.insert(shapes.end(), {{"decoder.head.0.gamma", {decoder_dim, 1, 1, 1}},
                               {"decoder.head.2.weight", {12, decoder_dim, 3, 3, 3}},
                               {"decoder.head.2.bias", {12}}});
  return shapes;
}

std::string wan_vae_diffusers_name(const std::string& original_name) {
  std::string name = original_name;
  if (rename_prefix(name, "conv1.", "quant_conv.") || rename_prefix(name, "conv2.", "post_quant_conv."))
    return name;
  for (const std::string part : {"encoder.", "decoder."}) {
    if (!name.starts_with(part)) continue;
    std::string rest = name.substr(part.size());
    if (rename_prefix(rest, "conv1.", "conv_in.") || rename_prefix(rest, "head.0.", "norm_out.") ||
        rename_prefix(rest, "head.2.", "conv_out."))
      return part + rest;
    if (rename_prefix(rest, "middle.", "")) {
      const auto [index, inner] = split_index(rest);
      if (index == 1) return part + "mid_block.attentions.0." + inner;
      return concat(part, "mid_block.resnets.", index / 2, ".", diffusers_block_part(inner));
    }
    if (rename_prefix(rest, "downsamples.", "")) {
      auto [index, inner] = split_index(rest);
      if (rename_prefix(inner, "downsamples.", "")) {  // Wan2.2: <stage>.downsamples.<j>
        const auto [position, within] = split_index(inner);
        if (position == kResidualBlocks) return concat(part, "down_blocks.", index, ".downsampler.", within);
        return concat(part, "down_blocks.", index, ".resnets.", position, ".", diffusers_block_part(within));
      }
      return concat(part, "down_blocks.", index, ".", diffusers_block_part(inner));
    }
    if (rename_prefix(rest, "upsamples.", "")) {
      auto [stage, stage_inner] = split_index(rest);
      if (rename_prefix(stage_inner, "upsamples.", "")) {  // Wan2.2: <stage>.upsamples.<j>
        const auto [position, within] = split_index(stage_inner);
        if (position == kResidualBlocks + 1) return concat(part, "up_blocks.", stage, ".upsampler.", within);
        return concat(part, "up_blocks.", stage, ".resnets.", position, ".", diffusers_block_part(within));
      }
      // Groups of (residual blocks + 1) resnets followed by one upsampler.
      const auto [index, inner] = split_index(rest);
      const int64_t group = kResidualBlocks + 2, block = index / group, position = index % group;
      if (position == kResidualBlocks + 1) return concat(part, "up_blocks.", block, ".upsamplers.0.", inner);
      return concat(part, "up_blocks.", block, ".resnets.", position, ".", diffusers_block_part(inner));
    }
  }
  return name;
}

WanVaeCheckpoint::WanVaeCheckpoint(const io::Checkpoint& checkpoint) : checkpoint_(&checkpoint) {
  if (checkpoint.contains("encoder.conv1.weight") || checkpoint.contains("decoder.conv1.weight")) {
    naming_ = WanWeightNaming::original;
  } else if (checkpoint.contains("encoder.conv_in.weight") || checkpoint.contains("decoder.conv_in.weight")) {
    naming_ = WanWeightNaming::diffusers;
  } else {
    throw Error("wan vae",
                concat(checkpoint.path(), " has neither 'encoder.conv1.weight' (Wan2.1_VAE.pth names) ",
                       "nor 'encoder.conv_in.weight' (diffusers AutoencoderKLWan names): not a Wan2.1 VAE"));
  }
  auto shape_of = [&](const std::string& original, size_t rank) {
    const std::string name = file_name(original);
    if (!checkpoint.contains(name))
      throw Error("wan vae", concat(checkpoint.path(), " has no tensor '", name,
                                    "'; the VAE checkpoint is incomplete or of another model"));
    const Shape shape = checkpoint.info(name).shape;
    if (shape.size() != rank || shape[0] < 1)
      throw Error("wan vae", concat("tensor '", name, "' has shape ", shape_to_string(shape), "; expected ",
                                    rank, " dims"));
    return shape;
  };
  const Shape conv_in = shape_of("encoder.conv1.weight", 5);
  config_.dim = conv_in[0];
  config_.z_dim = shape_of("conv2.weight", 5)[0];
  config_.decoder_dim = config_.dim;
  if (conv_in[1] == 12) {  // 3 colours x 2 x 2 pixels: Wan2.2's patchified input

    config_.patch = 2;
    config_.decoder_dim = shape_of("decoder.conv1.weight", 5)[0] / 4;
  } else if (conv_in[1] != 3) {
    throw Error("wan vae", concat("encoder.conv1.weight of ", checkpoint.path(), " takes ", conv_in[1],
                                  " channels; a Wan VAE takes 3 (Wan2.1) or 12 (Wan2.2, 2x2 patches)"));
  }
}

std::string WanVaeCheckpoint::file_name(const std::string& original_name) const {
  return naming_ == WanWeightNaming::diffusers ? wan_vae_diffusers_name(original_name) : original_name;
}

Tensor WanVaeCheckpoint::load(const std::string& original_name, const Shape& expected, DType dtype,
                              Device& device) const {
  const std::string name = file_name(original_name);
  if (!checkpoint_->contains(name))
    throw Error("wan vae", concat(checkpoint_->path(), " has no tensor '", name, "' (a ", config_.describe(),
                                  " needs it); the checkpoint is incomplete or of another model"));
  const io::TensorInfo info = checkpoint_->info(name);
  if (info.shape != expected)
    throw Error("wan vae", concat("tensor '", name, "' has shape ", shape_to_string(info.shape),
                                  ", expected ", shape_to_string(expected), " for a ", config_.describe()));
  Tensor host = checkpoint_->load(name);
  if (host.dtype() != dtype) host = host.to_host(dtype);
  return ops::to_device(host, device);
}

}  // namespace x2v
