#include "models/wan/dit_block.h"

#include "platform/ops.h"
#include "quant/quant_kernels.h"

namespace x2v {

void WanBlock::load(const WanDitConfig& config, const WanDitCheckpoint& checkpoint, int index,
                    const WanDitKernels& kernels, Precision precision, Device& device) {
  device_ = &device;
  precision_ = precision;
  dim_ = config.dim;
  heads_ = config.num_heads;
  image_branch_ = config.image_branch();
  const std::string prefix = concat("blocks.", index, ".");
  const DType compute = precision.compute;
  auto weight = [&](const std::string& name, const Shape& shape, DType dtype) {
    return checkpoint.load(prefix + name, shape, dtype, device);
  };
  // The attention and FFN linears: dit_quant_scheme's kernel, with quantized weights when it takes them.
  const std::string& block_mm = kernels.block_linear_kernel();
  const QuantFormat format = mm_kernel_format(device, block_mm, "dit_quant_scheme");
  auto linear = [&](Linear& layer, const std::string& name, int64_t out, int64_t in) {
    if (format == QuantFormat::none) {
      layer.load(device, block_mm, weight(name + ".weight", {out, in}, compute),
                 weight(name + ".bias", {out}, compute));
      return;
    }
    layer.load_quantized(device, block_mm,
                         checkpoint.load_quantized(prefix + name, {out, in}, format, block_mm,
                                                   kernels.weight_auto_quant, device),
                         weight(name + ".bias", {out}, DType::f32));
  };
  auto rms_norm = [&](const std::string& name) {
    std::unique_ptr<RmsNormKernel> norm = device.kernels().rms_norm.create(kernels.rms_norm);
    norm->load(weight(name + ".weight", {config.dim}, DType::f32), static_cast<float>(config.eps));
    return norm;
  };
  auto layer_norm = [&](const Tensor& scale, const Tensor& shift) {
    std::unique_ptr<LayerNormKernel> norm = device.kernels().layer_norm.create(kernels.layer_norm);
    norm->load(scale, shift, static_cast<float>(config.eps));
    return norm;
  };
  const int64_t dim = config.dim;
  modulation_ = weight("modulation", {6, dim}, DType::f32);
  norm1_ = layer_norm(Tensor(), Tensor());
  norm2_ = layer_norm(Tensor(), Tensor());
  norm3_ = layer_norm(weight("norm3.weight", {dim}, DType::f32), weight("norm3.bias", {dim}, DType::f32));
  linear(self_q_, "self_attn.q", dim, dim);
  linear(self_k_, "self_attn.k", dim, dim);
  linear(self_v_, "self_attn.v", dim, dim);
  linear(self_o_, "self_attn.o", dim, dim);
  self_norm_q_ = rms_norm("self_attn.norm_q");
  self_norm_k_ = rms_norm("self_attn.norm_k");
  linear(cross_q_, "cross_attn.q", dim, dim);
  linear(cross_k_, "cross_attn.k", dim, dim);
  linear(cross_v_, "cross_attn.v", dim, dim);
  linear(cross_o_, "cross_attn.o", dim, dim);
  cross_norm_q_ = rms_norm("cross_attn.norm_q");
  cross_norm_k_ = rms_norm("cross_attn.norm_k");
  if (image_branch_) {
    linear(cross_k_image_, "cross_attn.k_img", dim, dim);
    linear(cross_v_image_, "cross_attn.v_img", dim, dim);
    cross_norm_k_image_ = rms_norm("cross_attn.norm_k_img");
  }
  linear(ffn_up_, "ffn.0", config.ffn_dim, dim);
  linear(ffn_down_, "ffn.2", dim, config.ffn_dim);
  rope_ = device.kernels().rope.create(kernels.rope);
  self_attention_ = device.kernels().attention.create(kernels.self_attention);
  cross_attention_ = device.kernels().attention.create(kernels.cross_attention);
  if (image_branch_)
    image_cross_attention_ = device.kernels().attention.create(kernels.image_cross_attention);
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

void WanBlock::forward(Tensor& x, const Tensor& e0, const WanCrossContext& cross,
                       const RopeTables& rope) const {
  Device& device = *device_;
  const int64_t tokens = x.size(0);
  const DType compute = precision_.compute;
  // shift_msa, scale_msa, gate_msa, shift_ffn, scale_ffn, gate_ffn
  Tensor modulation = empty({6, dim_}, DType::f32, device);
  ops::add(modulation_, e0, modulation);
  auto part = [&](int index) { return modulation.select(0, index); };

  Tensor normed = empty({tokens, dim_}, DType::f32, device);
  Tensor hidden = empty({tokens, dim_}, compute, device);
  Tensor attended = empty({tokens, dim_}, compute, device);
  Tensor attended_heads = heads_view(attended);

  // Self-attention.
  norm1_->apply(x, normed);
  ops::modulate(normed, part(0), part(1), hidden);
  {
    Tensor q = project_and_norm(self_q_, self_norm_q_.get(), hidden);
    Tensor k = project_and_norm(self_k_, self_norm_k_.get(), hidden);
    Tensor v = self_v_.forward(hidden, compute);
    Tensor q_tokens = q.reshape({tokens, heads_, dim_ / heads_}),
           k_tokens = k.reshape({tokens, heads_, dim_ / heads_});
    rope_->apply(q_tokens, rope, q_tokens);
    rope_->apply(k_tokens, rope, k_tokens);
    self_attention_->apply(heads_view(q), heads_view(k), heads_view(v), attended_heads);
  }
  {
    Tensor y = self_o_.forward(attended, compute);
    ops::gated_residual(x, y, part(2), x);
  }

  // Cross-attention on the text (and image) context; no modulation, no gate.
  norm3_->apply(x, hidden);
  {
    Tensor q = project_and_norm(cross_q_, cross_norm_q_.get(), hidden);
    cross_attention_->apply(heads_view(q), heads_view(cross.keys), heads_view(cross.values), attended_heads);
    if (image_branch_) {
      Tensor image_attended = empty({tokens, dim_}, compute, device);
      Tensor image_heads = heads_view(image_attended);
      image_cross_attention_->apply(heads_view(q), heads_view(cross.image_keys),
                                    heads_view(cross.image_values), image_heads);
      ops::add(attended, image_attended, attended);
    }
    Tensor y = cross_o_.forward(attended, compute);
    ops::add(x, y, x);
  }

  // Feed-forward.
  norm2_->apply(x, normed);
  ops::modulate(normed, part(3), part(4), hidden);
  {
    Tensor up = ffn_up_.forward(hidden, compute);
    ops::gelu(up, up, /*tanh_approximation=*/true);
    Tensor y = ffn_down_.forward(up, compute);
    ops::gated_residual(x, y, part(5), x);
  }
}

}  // namespace x2v
