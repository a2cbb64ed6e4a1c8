// The vulkan kernels but the matmuls (vulkan_matmul.cpp): GLSL shaders for f32, bf16 and f16 tensors with f32
// math (attention with bias and key lengths, RMS and layer norm, RoPE, convolution and every elementwise op).
// Every other case (more than 6 dims, unusual layouts, calls past a CPU-backed device's budgets) runs the
// cpu's kernel through host copies, so the device runs whole models.
#include <cmath>
#include <numeric>

#include "platform/vulkan/vulkan_kernel_support.h"

namespace x2v::vulkan {
namespace {

class VulkanAttention : public AttentionKernel {
 public:
  explicit VulkanAttention(Backend& backend)
      : backend_(backend), fallback_(backend, host_device().kernels().attention.default_name()) {}
  bool supports_bias() const override { return true; }
  void load(const AttentionOptions& options) override {
    AttentionKernel::load(options);
    if (fallback_.created()) fallback_.get().load(options);
  }

 protected:
  void run(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
           const AttentionCall& call) override {
    check_attention_arguments(q, k, v, out, call);
    Device& device = backend_.device();
    const uint64_t rows = static_cast<uint64_t>(q.numel() / q.size(-1)), keys = k.size(-2), dim = q.size(-1);
    // flash_attention.comp for head_dim <= 128 (64 query rows a workgroup, key tiles of 16), else
    // attention.comp (an invocation a row, two passes over the keys).
    const uint64_t flash_blocks = rows / q.size(-2) * ((q.size(-2) + 63) / 64);
    const bool flash =
        dim <= 128 &&
        within_block_budget(backend_, flash_blocks, (keys + 15) / 16 * (dim / 4 + 34 * dim + 32) + 2 * dim,
                            2 * rows * keys * dim);
    bool native = call.key_lengths.size() <= 2 && dim <= 256 &&  // the shaders' limits
                  (!call.bias.defined() || native_f32(call.bias, device)) &&
                  (flash || within_loop_budget(backend_, rows, 3 * keys * (dim + 1)));
    for (const Tensor* tensor : {&q, &k, &v, static_cast<const Tensor*>(&out)})
      native = native && on_device_float(*tensor, device);
    if (!native) {
      if (!fallback_.created()) fallback_.get().load(options_);
      return fallback_.get().apply(q, k, v, out, call);
    }
    const bool batched = q.ndim() == 4;
    struct {
      uint32_t dtypes, batch, heads, q_len, kv_len, head_dim;
      float scale;
      uint32_t has_bias;
      uint32_t strides[12];
      uint32_t key_length[2];
    } parameters{};
    const Tensor& bias = call.bias.defined() ? call.bias : q;  // a valid binding the shader does not read
    parameters.dtypes = pack_dtypes({&q, &k, &v, &bias, &out});
    parameters.batch = batched ? u32(q.size(0)) : 1u;
    parameters.heads = u32(q.size(-3));
    parameters.q_len = u32(q.size(-2));
    parameters.kv_len = u32(k.size(-2));
    parameters.head_dim = u32(q.size(-1));
    parameters.scale =
        options_.scale != 0.0f ? options_.scale : 1.0f / std::sqrt(static_cast<float>(q.size(-1)));
    parameters.has_bias = call.bias.defined() ? 1u : 0u;
    const Tensor* tensors[] = {&q, &k, &v, &out};
    for (int t = 0; t < 4; ++t) {
      parameters.strides[3 * t] = batched ? u32(tensors[t]->stride(0)) : 0u;
      parameters.strides[3 * t + 1] = u32(tensors[t]->stride(-3));
      parameters.strides[3 * t + 2] = u32(tensors[t]->stride(-2));
    }
    for (size_t b = 0; b < call.key_lengths.size(); ++b) parameters.key_length[b] = u32(call.key_lengths[b]);
    if (!backend_.dispatcher().run(
            flash ? "flash_attention" : "attention",
            {binding_of(q), binding_of(k), binding_of(v), binding_of(bias), binding_of(out)}, &parameters,
            sizeof(parameters), flash ? flash_blocks * 64 : rows)) {
      if (!fallback_.created()) fallback_.get().load(options_);
      fallback_.get().apply(q, k, v, out, call);
    }
  }

 private:
  Backend& backend_;
  Fallback<AttentionKernel> fallback_;
};

// [rows, width] with one row stride, when every leading dim collapses into rows; 0 when it does not.
int64_t uniform_row_stride(const Tensor& tensor) {
  if (tensor.ndim() < 2) return tensor.size(-1);
  for (int dim = 0; dim + 2 < tensor.ndim(); ++dim)
    if (tensor.size(dim) != 1 && tensor.stride(dim) != tensor.stride(dim + 1) * tensor.size(dim + 1))
      return 0;
  return tensor.stride(-2);
}

// RMS norm and layer norm (one shader, `layer_norm` picks).
template <class Kernel>
class VulkanNorm : public Kernel {
 public:
  VulkanNorm(Backend& backend, std::string host_name, bool layer_norm)
      : backend_(backend), fallback_(backend, std::move(host_name)), layer_norm_(layer_norm) {}
  void apply(const Tensor& x, Tensor& out) override {
    check_norm_arguments(layer_norm_ ? "layer_norm" : "rms_norm", x, out, this->weight_, bias());
    Device& device = backend_.device();
    const int64_t x_stride = uniform_row_stride(x), out_stride = uniform_row_stride(out);
    bool native = on_device_float(x, device) && on_device_float(out, device) && x_stride > 0 &&
                  out_stride > 0 &&
                  within_loop_budget(backend_, x.numel() / x.size(-1), 4 * static_cast<uint64_t>(x.size(-1)));
    for (const Tensor* parameter : {static_cast<const Tensor*>(&this->weight_), &bias()})
      native = native && (!parameter->defined() || native_float(*parameter, device));
    if (!native) return fallback_apply(x, out);
    const Tensor& weight = this->weight_.defined() ? this->weight_ : x;
    const Tensor& bias_binding = bias().defined() ? bias() : x;
    const uint64_t rows = x.numel() / x.size(-1), width = x.size(-1);
    // Rows in calls whose x and out spans fit a binding.
    const uint64_t widest_row = std::max(x_stride * x.element_size(), out_stride * out.element_size());
    const uint64_t step = std::min(rows, backend_.dispatcher().binding_limit() / widest_row);
    bool done = rows == 0 || step > 0;
    for (uint64_t first = 0; done && first < rows; first += step) {
      const uint64_t count = std::min(step, rows - first);
      struct {
        uint32_t dtypes, rows, width, x_row_stride, out_row_stride, layer_norm, has_weight, has_bias;
        float eps;
      } parameters{pack_dtypes({&x, &weight, &bias_binding, &out}),
                   u32(count),
                   u32(width),
                   u32(x_stride),
                   u32(out_stride),
                   layer_norm_ ? 1u : 0u,
                   this->weight_.defined() ? 1u : 0u,
                   bias().defined() ? 1u : 0u,
                   this->eps_};
      done = backend_.dispatcher().run(
          "norm",
          {slice_of(x, first * x_stride, (count - 1) * x_stride + width),
           this->weight_.defined() ? binding_of(weight) : slice_of(x, 0, 1),  // unread when absent
           bias().defined() ? binding_of(bias_binding) : slice_of(x, 0, 1),
           slice_of(out, first * out_stride, (count - 1) * out_stride + width)},
          &parameters, sizeof(parameters), count);
    }
    if (!done) fallback_apply(x, out);
  }

 private:
  const Tensor& bias() const;
  void fallback_apply(const Tensor& x, Tensor& out);

  Backend& backend_;
  Fallback<Kernel> fallback_;
  bool layer_norm_;
  Tensor no_bias_;
};

template <>
const Tensor& VulkanNorm<RmsNormKernel>::bias() const {
  return no_bias_;
}
template <>
const Tensor& VulkanNorm<LayerNormKernel>::bias() const {
  return bias_;
}
template <>
void VulkanNorm<RmsNormKernel>::fallback_apply(const Tensor& x, Tensor& out) {
  if (!fallback_.created()) fallback_.get().load(weight_, eps_);
  fallback_.get().apply(x, out);
}
template <>
void VulkanNorm<LayerNormKernel>::fallback_apply(const Tensor& x, Tensor& out) {
  if (!fallback_.created()) fallback_.get().load(weight_, bias_, eps_);
  fallback_.get().apply(x, out);
}

class VulkanRope : public RopeKernel {
 public:
  explicit VulkanRope(Backend& backend)
      : backend_(backend), fallback_(backend, host_device().kernels().rope.default_name()) {}
  void apply(const Tensor& x, const RopeTables& tables, Tensor& out) override {
    check_rope_arguments(x, tables, out);
    Device& device = backend_.device();
    const bool native = within_loop_budget(backend_, 0, 0) && on_device_float(x, device) &&
                        on_device_float(out, device) && native_f32(tables.cos, device) &&
                        native_f32(tables.sin, device);
    if (!native || !run_native(x, tables, out)) fallback_.get().apply(x, tables, out);
  }

 private:
  // In slices of tokens whose x, out and table spans fit a binding.
  bool run_native(const Tensor& x, const RopeTables& tables, Tensor& out) {
    const int64_t tokens = x.size(0);
    if (tokens == 0) return true;
    const uint64_t step =
        leading_step({&x, &out, &tables.cos, &tables.sin}, backend_.dispatcher().binding_limit());
    if (step == 0) return false;
    for (int64_t first = 0; first < tokens; first += static_cast<int64_t>(step)) {
      const int64_t end = std::min<int64_t>(tokens, first + static_cast<int64_t>(step));
      const Tensor x_part = x.slice(0, first, end), out_part = out.slice(0, first, end);
      const Tensor cos_part = tables.cos.slice(0, first, end), sin_part = tables.sin.slice(0, first, end);
      const struct {
        uint32_t dtypes, tokens, heads, pairs, x_token_stride, x_head_stride, out_token_stride,
            out_head_stride;
      } parameters{pack_dtypes({&x, &tables.cos, &tables.sin, &out}),
                   u32(end - first),
                   u32(x.size(1)),
                   u32(x.size(2) / 2),
                   u32(x.stride(0)),
                   u32(x.stride(1)),
                   u32(out.stride(0)),
                   u32(out.stride(1))};
      if (!backend_.dispatcher().run(
              "rope", {binding_of(x_part), binding_of(cos_part), binding_of(sin_part), binding_of(out_part)},
              &parameters, sizeof(parameters),
              static_cast<uint64_t>(parameters.tokens) * parameters.heads * parameters.pairs))
        return false;
    }
    return true;
  }

  Backend& backend_;
  Fallback<RopeKernel> fallback_;
};

// Convolution (2-D as 3-D with depth 1) for contiguous tensors, as an implicit GEMM (conv.comp).
class VulkanConv : public ConvKernel {
 public:
  explicit VulkanConv(Backend& backend)
      : backend_(backend), fallback_(backend, host_device().kernels().conv.default_name()) {}
  void load(const Tensor& weight, const Tensor& bias, const ConvOptions& options) override {
    check_and_store(weight, bias, options);
    fallback_.reset();
  }
  void apply(const Tensor& x, Tensor& out) override {
    const Shape expected = output_shape(x.shape());
    if (!out.defined() || out.shape() != expected)
      throw Error("conv", concat("out is ", out.describe(), "; expected shape ", shape_to_string(expected)));
    if (!run_native(x, out)) {
      if (!fallback_.created()) fallback_.get().load(weight_, bias_, options_);
      fallback_.get().apply(x, out);
    }
  }

 private:
  bool run_native(const Tensor& x, Tensor& out) {
    Device& device = backend_.device();
    if (!native_float(x, device) || !native_float(out, device) || !native_float(weight_, device) ||
        (bias_.defined() && !native_float(bias_, device)))
      return false;
    const int dims = options_.spatial_dims;
    const int first_spatial = x.ndim() - dims;
    struct {
      uint32_t dtypes, batch, in_channels, out_channels;
      uint32_t in_size[3], out_size[3], kernel_size[3], stride[3], pad_begin[3], dilation[3];
      uint32_t has_bias;
    } parameters{};
    const Tensor& bias = bias_.defined() ? bias_ : weight_;  // a valid binding the shader does not read
    parameters.dtypes = pack_dtypes({&x, &weight_, &bias, &out});
    parameters.batch = x.ndim() == dims + 2 ? u32(x.size(0)) : 1u;
    parameters.in_channels = u32(weight_.size(1));
    parameters.out_channels = u32(weight_.size(0));
    for (int slot = 0; slot < 3; ++slot) {
      const int dim = slot - (3 - dims);  // 2-D: depth is slot 0 with size 1
      const bool present = dim >= 0;
      parameters.in_size[slot] = present ? u32(x.size(first_spatial + dim)) : 1u;
      parameters.out_size[slot] = present ? u32(out.size(first_spatial + dim)) : 1u;
      parameters.kernel_size[slot] = present ? u32(weight_.size(2 + dim)) : 1u;
      parameters.stride[slot] = present ? u32(options_.stride[dim]) : 1u;
      parameters.pad_begin[slot] = present ? u32(options_.pad_begin[dim]) : 0u;
      parameters.dilation[slot] = present ? u32(options_.dilation[dim]) : 1u;
    }
    parameters.has_bias = bias_.defined() ? 1u : 0u;
    const uint64_t taps =
        uint64_t{parameters.kernel_size[0]} * parameters.kernel_size[1] * parameters.kernel_size[2];
    const uint64_t depth = parameters.in_channels * taps;
    const uint64_t positions =
        uint64_t{parameters.out_size[0]} * parameters.out_size[1] * parameters.out_size[2];
    const uint64_t blocks = parameters.batch * mm_blocks(parameters.out_channels, positions);
    if (!within_block_budget(backend_, blocks, mm_iterations_per_block(depth),
                             static_cast<uint64_t>(out.numel()) * depth))
      return false;
    return backend_.dispatcher().run("conv",
                                     {binding_of(x), binding_of(weight_), binding_of(bias), binding_of(out)},
                                     &parameters, sizeof(parameters), blocks * kMmGroupSize);
  }

  Backend& backend_;
  Fallback<ConvKernel> fallback_;
};

// One elementwise op: a shader for f32 tensors, the cpu's op through host copies for anything else.
class VulkanElementwise : public ElementwiseKernel {
 public:
  VulkanElementwise(Backend& backend, std::string op) : backend_(backend), op_(op), fallback_(backend, op) {}
  void load(const std::vector<float>& params) override {
    ElementwiseKernel::load(params);
    if (fallback_.created()) fallback_.get().load(params);
  }
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    for (const Tensor& input : inputs)
      if (!input.defined()) throw Error(op_, "an input is missing");
    if (!out.defined()) throw Error(op_, "out is missing");
    if (!run_native(inputs, out)) {
      if (!fallback_.created()) fallback_.get().load(params_);
      fallback_.get().apply(inputs, out);
    }
  }

 private:
  // False when the case has no shader.
  bool run_native(const std::vector<Tensor>& inputs, Tensor& out) {
    Device& device = backend_.device();
    if (!on_device_float(out, device) || !within_loop_budget(backend_, 0, 0)) return false;
    for (const Tensor& input : inputs)
      if (!on_device_float(input, device)) return false;
    const uint32_t count = u32(out.numel());
    Dispatcher& dispatcher = backend_.dispatcher();
    if (op_ == "copy") return copy(inputs.at(0), out);
    if (op_ == "channel_l2_norm") return channel_l2_norm(inputs, out);
    if (!out.is_contiguous()) return false;
    for (const Tensor& input : inputs)
      if (!input.is_contiguous()) return false;
    if (op_ == "fill") {
      if (params_.size() != 1 || !inputs.empty()) throw Error("fill", "expects no inputs and [value]");
      const struct {
        uint32_t dtypes, count;
        float value;
      } whole{pack_dtypes({&out}), count, params_[0]};
      return for_each_range(count, out.element_size(), 1, [&](uint64_t first, uint64_t elements) {
        auto parameters = whole;
        parameters.count = u32(elements);
        return dispatcher.run("fill", {slice_of(out, first, elements)}, &parameters, sizeof(parameters),
                              elements);
      });
    }
    const int unary = op_ == "scale"       ? 0
                      : op_ == "silu"      ? 1
                      : op_ == "gelu_tanh" ? 2
                      : op_ == "clamp"     ? 3
                      : op_ == "gelu_erf"  ? 4
                                           : -1;
    if (unary >= 0) {
      if (inputs.size() != 1 || inputs[0].shape() != out.shape())
        throw Error(op_, concat("expects one input of out's shape ", shape_to_string(out.shape())));
      const bool has_params = unary == 0 || unary == 3;
      if (has_params && params_.size() != 2) throw Error(op_, "expects two parameters");
      const struct {
        uint32_t dtypes, count, op;
        float a, b;
      } whole{pack_dtypes({&inputs[0], &out}), count, static_cast<uint32_t>(unary),
              has_params ? params_[0] : 0.0f, has_params ? params_[1] : 0.0f};
      const uint64_t widest = std::max(inputs[0].element_size(), out.element_size());
      return for_each_range(count, widest, 1, [&](uint64_t first, uint64_t elements) {
        auto parameters = whole;
        parameters.count = u32(elements);
        return dispatcher.run("unary", {slice_of(inputs[0], first, elements), slice_of(out, first, elements)},
                              &parameters, sizeof(parameters), elements);
      });
    }
    const int broadcast = op_ == "add"              ? 0
                          : op_ == "mul"            ? 1
                          : op_ == "modulate"       ? 2
                          : op_ == "gated_residual" ? 3
                                                    : -1;
    if (broadcast >= 0) {
      const size_t arity = broadcast < 2 ? 2 : 3;
      if (inputs.size() != arity) throw Error(op_, concat("expects ", arity, " inputs"));
      if (inputs[0].shape() != out.shape())
        throw Error(op_,
                    concat("the first input ", inputs[0].describe(), " must match out ", out.describe()));
      for (size_t i = 1; i < arity; ++i) check_broadcast_operand(op_.c_str(), out, inputs[i]);
      const Tensor& third = arity == 3 ? inputs[2] : inputs[1];
      const struct {
        uint32_t dtypes, count, op, b_count, c_count;
      } whole{pack_dtypes({&inputs[0], &inputs[1], &third, &out}), count, static_cast<uint32_t>(broadcast),
              u32(std::max<int64_t>(inputs[1].numel(), 1)), u32(std::max<int64_t>(third.numel(), 1))};
      // Each call starts where both broadcast operands start over, so they bind whole.
      const uint64_t period = std::lcm(uint64_t{whole.b_count}, uint64_t{whole.c_count});
      const uint64_t widest = std::max(inputs[0].element_size(), out.element_size());
      return for_each_range(count, widest, period, [&](uint64_t first, uint64_t elements) {
        auto parameters = whole;
        parameters.count = u32(elements);
        return dispatcher.run("broadcast",
                              {slice_of(inputs[0], first, elements), binding_of(inputs[1]), binding_of(third),
                               slice_of(out, first, elements)},
                              &parameters, sizeof(parameters), elements);
      });
    }
    if (op_ == "softmax") {
      if (inputs.size() != 1 || inputs[0].shape() != out.shape())
        throw Error("softmax", "expects x of out's shape");
      if (!within_loop_budget(backend_, out.numel() / std::max<int64_t>(out.size(-1), 1), 3 * out.size(-1)))
        return false;
      const struct {
        uint32_t dtypes, rows, width;
      } parameters{pack_dtypes({&inputs[0], &out}), u32(out.numel() / std::max<int64_t>(out.size(-1), 1)),
                   u32(out.size(-1))};
      return dispatcher.run("softmax", {binding_of(inputs[0]), binding_of(out)}, &parameters,
                            sizeof(parameters), parameters.rows);
    }
    return false;
  }

  // Runs `call(first, elements)` over `count` elements in ranges whose widest operand (`widest` bytes an
  // element) fits a binding, each starting on a multiple of `period`; false when a call returns false or one
  // period alone is too large.
  template <class Call>
  bool for_each_range(uint64_t count, uint64_t widest, uint64_t period, Call call) {
    const uint64_t step = backend_.dispatcher().binding_limit() / widest / period * period;
    if (count == 0) return true;
    if (step == 0) return false;
    for (uint64_t first = 0; first < count; first += step)
      if (!call(first, std::min(step, count - first))) return false;
    return true;
  }

  // x [C, ...] contiguous, gamma [C], out like x with any channel stride (contiguous within a channel).
  bool channel_l2_norm(const std::vector<Tensor>& inputs, Tensor& out) {
    if (inputs.size() != 2) throw Error("channel_l2_norm", "expects 2 inputs (x, gamma)");
    const Tensor& x = inputs[0];
    if (x.ndim() < 1 || x.shape() != out.shape() || inputs[1].numel() != x.size(0))
      throw Error("channel_l2_norm",
                  concat("x ", x.describe(), ", gamma ", inputs[1].describe(), ", out ", out.describe(),
                         ": expected x [C, ...], gamma of C elements, out like x"));
    const int64_t channels = x.size(0), positions = x.numel() / std::max<int64_t>(channels, 1);
    // out: its positions contiguous, channels one stride apart.
    const Tensor channel_of_out = out.ndim() > 1 ? out.select(0, 0) : out;
    if (!x.is_contiguous() || !inputs[1].is_contiguous() || !channel_of_out.is_contiguous() ||
        !within_loop_budget(backend_, positions, 2 * channels))
      return false;
    const struct {
      uint32_t dtypes, channels, positions, out_channel_stride;
      float eps;
      uint32_t silu;
    } parameters{pack_dtypes({&x, &inputs[1], &out}),
                 u32(channels),
                 u32(positions),
                 u32(channels > 1 ? out.stride(0) : positions),
                 params_.empty() ? 1e-12f : params_[0],
                 params_.size() > 1 && params_[1] != 0.0f ? 1u : 0u};
    return backend_.dispatcher().run("channel_norm", {binding_of(x), binding_of(inputs[1]), binding_of(out)},
                                     &parameters, sizeof(parameters), positions);
  }

  // Any strides, up to 6 dims, between f32, bf16 and f16.
  // Past the storage buffer range: contiguous tensors as one dim, then slices along dim 0.
  bool copy(const Tensor& x, Tensor& out) {
    if (x.shape() != out.shape())
      throw Error("copy", concat("x ", x.describe(), " and out ", out.describe(), " differ in shape"));
    if (out.ndim() > 6 || out.numel() == 0) return out.numel() == 0;
    const uint64_t limit = backend_.dispatcher().binding_limit();
    if (binding_of(x).bytes <= limit && binding_of(out).bytes <= limit) return copy_once(x, out);
    if (x.is_contiguous() && out.is_contiguous()) {
      const Tensor flat_x = x.reshape({x.numel()});
      Tensor flat_out = out.reshape({out.numel()});
      return copy_in_slices(flat_x, flat_out, limit);
    }
    return copy_in_slices(x, out, limit);
  }
  bool copy_in_slices(const Tensor& x, Tensor& out, uint64_t limit) {
    const uint64_t step = leading_step({&x, &out}, limit);
    if (step == 0) return false;
    for (int64_t first = 0; first < out.size(0); first += static_cast<int64_t>(step)) {
      const int64_t end = std::min<int64_t>(out.size(0), first + static_cast<int64_t>(step));
      Tensor out_slice = out.slice(0, first, end);
      if (!copy_once(x.slice(0, first, end), out_slice)) return false;
    }
    return true;
  }
  bool copy_once(const Tensor& x, Tensor& out) {
    struct {
      uint32_t dtypes, count, ndim, shape[6], x_strides[6], out_strides[6];
    } parameters{};
    parameters.dtypes = pack_dtypes({&x, &out});
    parameters.count = u32(out.numel());
    parameters.ndim = static_cast<uint32_t>(out.ndim());
    for (int dim = 0; dim < out.ndim(); ++dim) {
      if (x.stride(dim) < 0 || out.stride(dim) < 0) return false;
      parameters.shape[dim] = u32(out.size(dim));
      parameters.x_strides[dim] = u32(x.stride(dim));
      parameters.out_strides[dim] = u32(out.stride(dim));
    }
    return backend_.dispatcher().run("copy", {binding_of(x), binding_of(out)}, &parameters,
                                     sizeof(parameters), parameters.count);
  }

  Backend& backend_;
  std::string op_;
  Fallback<ElementwiseKernel> fallback_;
};

}  // namespace

void register_vulkan_kernels(Backend& backend, KernelRegistries& kernels) {
  const char* f32_note =
      "; other layouts and calls past the device's limits run the cpu's kernel through host copies";
  register_vulkan_matmuls(backend, kernels);
  kernels.attention.add(
      "vulkan_attn", [&backend] { return std::make_unique<VulkanAttention>(backend); },
      concat(
          "flash_attention.comp (head_dim <= 128: 64 queries a workgroup, key tiles in shared memory, online "
          "softmax) or attention.comp (head_dim <= 256, two passes): additive bias, key lengths (batch <= "
          "2), f32",
          f32_note),
      KernelTraits::with_bias());
  kernels.attention.set_default("vulkan_attn");
  kernels.rms_norm.add(
      "vulkan_rms_norm",
      [&backend] {
        return std::make_unique<VulkanNorm<RmsNormKernel>>(
            backend, host_device().kernels().rms_norm.default_name(), false);
      },
      concat("norm.comp, one invocation per row, f32", f32_note));
  kernels.rms_norm.set_default("vulkan_rms_norm");
  kernels.layer_norm.add(
      "vulkan_layer_norm",
      [&backend] {
        return std::make_unique<VulkanNorm<LayerNormKernel>>(
            backend, host_device().kernels().layer_norm.default_name(), true);
      },
      concat("norm.comp, one invocation per row, f32", f32_note));
  kernels.layer_norm.set_default("vulkan_layer_norm");
  kernels.rope.add(
      "vulkan_rope", [&backend] { return std::make_unique<VulkanRope>(backend); },
      concat("rope.comp from cos/sin tables, f32", f32_note));
  kernels.rope.set_default("vulkan_rope");
  kernels.conv.add(
      "vulkan_conv", [&backend] { return std::make_unique<VulkanConv>(backend); },
      concat("conv.comp: 2-D/3-D convolution as an implicit GEMM, tiled 32 x 32, f32 math", f32_note));
  kernels.conv.set_default("vulkan_conv");
  for (const std::string& op : elementwise_op_names()) {
    kernels.elementwise.add(
        op, [&backend, op] { return std::make_unique<VulkanElementwise>(backend, op); },
        concat("shader for f32, bf16 and f16 tensors", f32_note));
  }
}

}  // namespace x2v::vulkan
