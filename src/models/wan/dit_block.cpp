#include "models/wan/dit_block.h"

#include "platform/ops.h"
#include "platform/platform.h"
#include "quant/quant_kernels.h"

namespace x2v {

namespace {

// The linears of each part, with their [out, in] shapes.
struct LinearShape {
  const char* name;
  unsigned part;
  bool image_only;
  bool ffn_up, ffn_down;
};
const LinearShape kLinears[] = {
    {"self_attn.q", kWanSelfAttention, false, false, false},
    {"self_attn.k", kWanSelfAttention, false, false, false},
    {"self_attn.v", kWanSelfAttention, false, false, false},
    {"self_attn.o", kWanSelfAttention, false, false, false},
    {"cross_attn.q", kWanCrossAttention, false, false, false},
    {"cross_attn.o", kWanCrossAttention, false, false, false},
    {"cross_attn.k", kWanCrossContext, false, false, false},
    {"cross_attn.v", kWanCrossContext, false, false, false},
    {"cross_attn.k_img", kWanCrossContext, true, false, false},
    {"cross_attn.v_img", kWanCrossContext, true, false, false},
    {"ffn.0", kWanFeedForward, false, true, false},
    {"ffn.2", kWanFeedForward, false, false, true},
};

struct NormName {
  const char* name;
  unsigned part;
  bool image_only;
};
const NormName kRmsNorms[] = {{"self_attn.norm_q", kWanSelfAttention, false},
                              {"self_attn.norm_k", kWanSelfAttention, false},
                              {"cross_attn.norm_q", kWanCrossAttention, false},
                              {"cross_attn.norm_k", kWanCrossContext, false},
                              {"cross_attn.norm_k_img", kWanCrossContext, true}};

Shape linear_shape(const LinearShape& linear, const WanDitConfig& config) {
  if (linear.ffn_up) return {config.ffn_dim, config.dim};
  if (linear.ffn_down) return {config.dim, config.ffn_dim};
  return {config.dim, config.dim};
}

}  // namespace

WeightSet WanBlock::read_weights(const WanDitConfig& config, const WanDitCheckpoint& checkpoint, int index,
                                 const WanDitKernels& kernels, Precision precision, Device& device,
                                 unsigned parts) {
  const std::string prefix = concat("blocks.", index, ".");
  Device& host = host_device();
  WeightSet weights;
  auto add = [&](const std::string& name, const Shape& shape, DType dtype) {
    weights.add(name, checkpoint.load(prefix + name, shape, dtype, host));
  };
  // The attention and FFN linears: dit_quant_scheme's kernel, with quantized weights when it takes them.
  const std::string& block_mm = kernels.block_linear_kernel();
  const QuantFormat format = mm_kernel_format(device, block_mm, "dit_quant_scheme");
  const int64_t dim = config.dim;
  if (parts & (kWanSelfAttention | kWanFeedForward)) add("modulation", {6, dim}, DType::f32);
  if (parts & kWanCrossAttention) {
    add("norm3.weight", {dim}, DType::f32);
    add("norm3.bias", {dim}, DType::f32);
  }
  for (const LinearShape& linear : kLinears) {
    if (!(parts & linear.part) || (linear.image_only && !config.image_branch())) continue;
    const std::string name = linear.name;
    const Shape shape = linear_shape(linear, config);
    if (format == QuantFormat::none) {
      add(name + ".weight", shape, precision.compute);
      add(name + ".bias", {shape[0]}, precision.compute);
      continue;
    }
    QuantizedWeight quantized =
        checkpoint.load_quantized(prefix + name, shape, format, block_mm, kernels.weight_auto_quant, host);
    weights.add(name + ".weight", quantized.weight);
    weights.add(name + ".weight_scale", quantized.scale);
    add(name + ".bias", {shape[0]}, DType::f32);
  }
  for (const NormName& norm : kRmsNorms)
    if ((parts & norm.part) && (!norm.image_only || config.image_branch()))
      add(std::string(norm.name) + ".weight", {dim}, DType::f32);
  return weights;
}

void WanBlock::load(const WanDitConfig& config, const WanDitCheckpoint& checkpoint, int index,
                    const WanDitKernels& kernels, Precision precision, Device& device) {
  const WeightSet host = read_weights(config, checkpoint, index, kernels, precision, device, kWanAllParts);
  build(config, host.copied_to(device), kernels, precision, device, kWanAllParts);
  // The kernels hold their own (packed, quantized or device) copies: the file's pages can go, or a resident
  // model would count its weights twice in RSS. A kernel that still reads the file gets the pages back.
  for (const auto& entry : host.entries()) checkpoint.release(concat("blocks.", index, ".", entry.name));
}

void WanBlock::build(const WanDitConfig& config, const WeightSet& weights, const WanDitKernels& kernels,
                     Precision precision, Device& device, unsigned parts) {
  device_ = &device;
  precision_ = precision;
  dim_ = config.dim;
  heads_ = config.num_heads;
  image_branch_ = config.image_branch();
  const std::string& block_mm = kernels.block_linear_kernel();
  const QuantFormat format = mm_kernel_format(device, block_mm, "dit_quant_scheme");
  auto linear = [&](Linear& layer, const std::string& name) {
    if (format == QuantFormat::none) {
      layer.load(device, block_mm, weights.get(name + ".weight"), weights.get(name + ".bias"));
      return;
    }
    layer.load_quantized(device, block_mm,
                         QuantizedWeight{weights.get(name + ".weight"), weights.get(name + ".weight_scale")},
                         weights.get(name + ".bias"));
  };
  auto rms_norm = [&](const std::string& name) {
    std::unique_ptr<RmsNormKernel> norm = device.kernels().rms_norm.create(kernels.rms_norm);
    norm->load(weights.get(name + ".weight"), static_cast<float>(config.eps));
    return norm;
  };
  auto layer_norm = [&](const Tensor& scale, const Tensor& shift) {
    std::unique_ptr<LayerNormKernel> norm = device.kernels().layer_norm.create(kernels.layer_norm);
    norm->load(scale, shift, static_cast<float>(config.eps));
    return norm;
  };
  if (parts & (kWanSelfAttention | kWanFeedForward)) modulation_ = weights.get("modulation");
  if (parts & kWanSelfAttention) {
    norm1_ = layer_norm(Tensor(), Tensor());
    linear(self_q_, "self_attn.q");
    linear(self_k_, "self_attn.k");
    linear(self_v_, "self_attn.v");
    linear(self_o_, "self_attn.o");
    self_norm_q_ = rms_norm("self_attn.norm_q");
    self_norm_k_ = rms_norm("self_attn.norm_k");
    rope_ = device.kernels().rope.create(kernels.rope);
    self_attention_ = device.kernels().attention.create(kernels.self_attention);
  }
  if (parts & kWanCrossAttention) {
    norm3_ = layer_norm(weights.get("norm3.weight"), weights.get("norm3.bias"));
    linear(cross_q_, "cross_attn.q");
    linear(cross_o_, "cross_attn.o");
    cross_norm_q_ = rms_norm("cross_attn.norm_q");
    cross_attention_ = device.kernels().attention.create(kernels.cross_attention);
    if (image_branch_)
      image_cross_attention_ = device.kernels().attention.create(kernels.image_cross_attention);
  }
  if (parts & kWanCrossContext) {
    linear(cross_k_, "cross_attn.k");
    linear(cross_v_, "cross_attn.v");
    cross_norm_k_ = rms_norm("cross_attn.norm_k");
    if (image_branch_) {
      linear(cross_k_image_, "cross_attn.k_img");
      linear(cross_v_image_, "cross_attn.v_img");
      cross_norm_k_image_ = rms_norm("cross_attn.norm_k_img");
    }
  }
  if (parts & kWanFeedForward) {
    norm2_ = layer_norm(Tensor(), Tensor());
    linear(ffn_up_, "ffn.0");
    linear(ffn_down_, "ffn.2");
  }
}

Tensor WanBlock::heads_view(const Tensor& tokens) const {
  return tokens.reshape({tokens.size(0), heads_, dim_ / heads_}).permute({1, 0, 2});
}

Tensor WanBlock::project_and_norm(const Linear& linear, RmsNormKernel* norm, const Tensor& input) const {
  Tensor projected = linear.forward(input, precision_.compute);
  if (norm) norm->apply(projected, projected);
  return projected;
}

WanCrossContext WanBlock::cross_context(const Tensor& context, const Tensor& image_context) const {
  WanCrossContext cross;
  cross.keys = project_and_norm(cross_k_, cross_norm_k_.get(), context);
  cross.values = cross_v_.forward(context, precision_.compute);
  if (image_branch_) {
    cross.image_keys = project_and_norm(cross_k_image_, cross_norm_k_image_.get(), image_context);
    cross.image_values = cross_v_image_.forward(image_context, precision_.compute);
  }
  return cross;
}

Tensor WanBlock::modulation(const Tensor& e0) const {
  // shift_msa, scale_msa, gate_msa, shift_ffn, scale_ffn, gate_ffn
  Tensor modulation = empty({6, dim_}, DType::f32, *device_);
  ops::add(modulation_, e0, modulation);
  return modulation;
}

Tensor WanBlock::modulated_norm(const Tensor& x, LayerNormKernel& norm, const Tensor& modulation,
                                const Tensor& first_modulation, int64_t first_tokens, int shift_row) const {
  const int64_t tokens = x.size(0);
  Tensor hidden = empty({tokens, dim_}, precision_.compute, *device_);
  // Rows are contiguous, so each token range is one contiguous block.
  const auto apply = [&](const Tensor& rows_modulation, int64_t begin, int64_t end) {
    if (begin == end) return;
    Tensor target = hidden.slice(0, begin, end);
    norm.apply_modulated(x.slice(0, begin, end), rows_modulation.select(0, shift_row),
                         rows_modulation.select(0, shift_row + 1), target);
  };
  apply(first_modulation, 0, first_tokens);
  apply(modulation, first_tokens, tokens);
  return hidden;
}

void WanBlock::gated_residual(Tensor& x, const Tensor& y, const Tensor& modulation,
                              const Tensor& first_modulation, int64_t first_tokens, int row) const {
  if (first_tokens == 0) {
    ops::gated_residual(x, y, modulation.select(0, row), x);
    return;
  }
  const int64_t tokens = x.size(0);
  Tensor first = x.slice(0, 0, first_tokens), rest = x.slice(0, first_tokens, tokens);
  ops::gated_residual(first, y.slice(0, 0, first_tokens), first_modulation.select(0, row), first);
  if (first_tokens < tokens)
    ops::gated_residual(rest, y.slice(0, first_tokens, tokens), modulation.select(0, row), rest);
}

void WanBlock::self_attention(Tensor& x, const WanTimeConditioning& time, const RopeTables& rope,
                              const SequenceShard& shard) const {
  const int64_t tokens = x.size(0);
  const DType compute = precision_.compute;
  const Tensor modulated = modulation(time.e0);
  const Tensor first = time.first_tokens > 0 ? modulation(time.first_e0) : Tensor();
  const Tensor hidden = modulated_norm(x, *norm1_, modulated, first, time.first_tokens, 0);
  Tensor attended = empty({tokens, dim_}, compute, *device_);
  Tensor attended_heads = heads_view(attended);
  {
    Tensor q = project_and_norm(self_q_, self_norm_q_.get(), hidden);
    Tensor k = project_and_norm(self_k_, self_norm_k_.get(), hidden);
    Tensor v = self_v_.forward(hidden, compute);
    Tensor q_tokens = q.reshape({tokens, heads_, dim_ / heads_}),
           k_tokens = k.reshape({tokens, heads_, dim_ / heads_});
    rope_->apply(q_tokens, rope, q_tokens);
    rope_->apply(k_tokens, rope, k_tokens);
    if (!shard.active()) {
      self_attention_->apply(heads_view(q), heads_view(k), heads_view(v), attended_heads);
    } else {
      // Ulysses: every token for this rank's heads, attended, then back to this rank's tokens.
      const Tensor q_heads = sequence_to_heads(shard, q_tokens);
      const Tensor k_heads = sequence_to_heads(shard, k_tokens);
      const Tensor v_heads = sequence_to_heads(shard, v.reshape({tokens, heads_, dim_ / heads_}));
      Tensor out = empty(q_heads.shape(), compute, *device_);
      Tensor out_heads = out.permute({1, 0, 2});
      self_attention_->apply(q_heads.permute({1, 0, 2}), k_heads.permute({1, 0, 2}),
                             v_heads.permute({1, 0, 2}), out_heads);
      Tensor target = attended.reshape({tokens, heads_, dim_ / heads_});
      ops::copy(heads_to_sequence(shard, out), target);
    }
  }
  Tensor y = self_o_.forward(attended, compute);
  gated_residual(x, y, modulated, first, time.first_tokens, 2);
}

void WanBlock::cross_attention(Tensor& x, const WanCrossContext& cross) const {
  // On the text (and image) context; no modulation, no gate.
  Device& device = *device_;
  const int64_t tokens = x.size(0);
  const DType compute = precision_.compute;
  Tensor hidden = empty({tokens, dim_}, compute, device);
  Tensor attended = empty({tokens, dim_}, compute, device);
  Tensor attended_heads = heads_view(attended);
  norm3_->apply(x, hidden);
  Tensor q = project_and_norm(cross_q_, cross_norm_q_.get(), hidden);
  cross_attention_->apply(heads_view(q), heads_view(cross.keys), heads_view(cross.values), attended_heads);
  if (image_branch_) {
    Tensor image_attended = empty({tokens, dim_}, compute, device);
    Tensor image_heads = heads_view(image_attended);
    image_cross_attention_->apply(heads_view(q), heads_view(cross.image_keys), heads_view(cross.image_values),
                                  image_heads);
    ops::add(attended, image_attended, attended);
  }
  Tensor y = cross_o_.forward(attended, compute);
  ops::add(x, y, x);
}

void WanBlock::feed_forward(Tensor& x, const WanTimeConditioning& time) const {
  const DType compute = precision_.compute;
  const Tensor modulated = modulation(time.e0);
  const Tensor first = time.first_tokens > 0 ? modulation(time.first_e0) : Tensor();
  const Tensor hidden = modulated_norm(x, *norm2_, modulated, first, time.first_tokens, 3);
  Tensor up = ffn_up_.forward(hidden, compute);
  ops::gelu(up, up, /*tanh_approximation=*/true);
  Tensor y = ffn_down_.forward(up, compute);
  gated_residual(x, y, modulated, first, time.first_tokens, 5);
}

}  // namespace x2v
