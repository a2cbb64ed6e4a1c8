// The cpu convolution kernel (2-D and 3-D) on oneDNN: stride, per-side padding, dilation, optional bias.
//
// The primitive is created with "any" layouts so oneDNN picks its fast blocked formats (nCdhw8c source,
// OIdhw8i8o weights on AVX2: 2.5x the plain-layout gemm convolution at VAE-like shapes, measured here);
// the caller's plain tensors are reordered into and out of them at each call, and those reorders also
// convert bf16/f16 activations, because oneDNN 2.6 has no bf16 convolution on AVX2 (it needs AVX-512).
// Weights are packed once at load, in f32; bf16 weights where oneDNN has a native (non-reference) bf16
// convolution (AVX512-bf16, AMX) are packed in bf16 instead, and bf16 inputs then run on that primitive with
// f32 accumulation and an f32 bias (the VAE with vae_dtype bf16); other inputs get the weights repacked to
// f32 once. Primitives and reorders are cached per input shape and dtype pair.
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "platform/cpu/cpu_device.h"
#include "platform/cpu/onednn_context.h"
#include "platform/platform.h"

namespace x2v {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

// Distinct input shapes kept compiled per kernel; past this the cache restarts.
constexpr size_t kMaxCachedShapes = 32;

bool is_activation_dtype(DType dtype) {
  return dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16;
}

memory::format_tag plain_tag(int rank) {
  return rank == 4 ? tag::abcd : tag::abcde;  // NCHW / NCDHW and OIHW / OIDHW
}

class OnednnConv final : public ConvKernel {
 public:
  void load(const Tensor& weight, const Tensor& bias, const ConvOptions& options) override {
    check_and_store(weight, bias, options);
    if (!is_activation_dtype(weight.dtype()) || (bias.defined() && !is_activation_dtype(bias.dtype())))
      throw Error("conv", concat("onednn_conv takes f32, bf16 or f16 weights and bias, not ",
                                 weight.describe(), bias.defined() ? concat(" and ", bias.describe()) : ""));
    if (!weight.is_host_accessible())
      throw Error("conv", concat("weight ", weight.describe(), " is not in host memory"));
    std::lock_guard<std::mutex> lock(mutex_);
    compiled_.clear();
    packed_weights_.clear();
    bias_f32_ = bias.defined() ? bias.to_host(DType::f32) : Tensor();
    const int dims = options_.spatial_dims;
    strides_ = memory::dims(options_.stride.begin(), options_.stride.end());
    padding_begin_ = memory::dims(options_.pad_begin.begin(), options_.pad_begin.end());
    padding_end_ = memory::dims(options_.pad_end.begin(), options_.pad_end.end());
    dilation_.clear();
    for (int64_t dilation : options_.dilation) dilation_.push_back(dilation - 1);  // oneDNN counts the gaps
    for (int i = 0; i < dims; ++i)
      if (strides_[i] < 1 || dilation_[i] < 0 || padding_begin_[i] < 0 || padding_end_[i] < 0)
        throw Error("conv",
                    concat("stride and dilation must be >= 1 and padding >= 0 (spatial dim ", i, ")"));
    // Pack for a nominal input large enough for the kernel: the weight layout depends on the channel
    // counts and the instruction set, not on the spatial extent, so every later shape reuses this one.
    memory::dims nominal{1, weight.size(1)};
    for (int i = 0; i < dims; ++i) {
      const int64_t kernel_extent = (weight.size(2 + i) - 1) * options_.dilation[i] + 1;
      nominal.push_back(std::max<int64_t>(kernel_extent, 1) + 7 * strides_[i]);
    }
    native_bf16_ = false;
    if (weight.dtype() == DType::bf16) {
      // Native only when oneDNN has an optimized bf16 convolution here, not its slow reference one.
      try {
        const auto probe = make_descriptor(nominal, output_dims(nominal), DType::bf16, DType::bf16);
        native_bf16_ = std::string(probe.impl_info_str()).find("ref") == std::string::npos;
      } catch (const dnnl::error&) {
      }
    }
    const DType packed_dtype = native_bf16_ ? DType::bf16 : DType::f32;
    const auto descriptor = onednn_build("conv", "the weight layout query", [&] {
      return make_descriptor(nominal, output_dims(nominal), packed_dtype, packed_dtype);
    });
    {
      const Tensor plain = weight.to_host(packed_dtype);
      pack_weights(memory(plain_weights_desc(packed_dtype), onednn_engine(), plain.raw_data()),
                   descriptor.weights_desc());
    }
    // The packed copy (f32, or bf16 for the native path) is all apply() reads: the caller's weight (and bias)
    // need not stay alive here.
    weight_ = Tensor();
    bias_ = Tensor();
  }

  void apply(const Tensor& x, Tensor& out) override {
    if (packed_weights_.empty()) throw Error("conv", "apply called before load");
    for (const auto& [what, tensor] :
         {std::pair<const char*, const Tensor*>{"input", &x}, {"output", &out}}) {
      if (!tensor->defined() || !is_activation_dtype(tensor->dtype()))
        throw Error("conv", concat(what, " is ", tensor->describe(), "; expected f32, bf16 or f16"));
      if (!tensor->is_host_accessible())
        throw Error("conv", "onednn_conv works on host memory; move the tensors to the cpu device first");
    }
    const Shape expected = output_shape(x.shape());
    if (out.shape() != expected)
      throw Error("conv", concat("output ", out.describe(), " should have shape ", shape_to_string(expected),
                                 " for input ", x.describe()));
    if (!out.is_contiguous()) throw Error("conv", concat("output ", out.describe(), " must be contiguous"));
    const Tensor input = x.is_contiguous() ? x : x.to_host(x.dtype());
    memory::dims source_dims(input.shape().begin(), input.shape().end());
    if (input.ndim() == options_.spatial_dims + 1) source_dims.insert(source_dims.begin(), 1);
    // A copy (shared handles), so that another thread pruning the cache cannot pull it away.
    const Compiled compiled = compiled_for(source_dims, input.dtype(), out.dtype());

    const dnnl::engine& engine = onednn_engine();
    dnnl::stream& stream = onednn_stream();
    memory user_source(compiled.user_source_desc, engine, input.raw_data());
    memory user_destination(compiled.user_destination_desc, engine, out.raw_data());
    Tensor source_scratch, destination_scratch;
    memory source = user_source, destination = user_destination;
    if (compiled.source_reorder) {
      source_scratch = bytes_scratch(compiled.source_desc.get_size());
      source = memory(compiled.source_desc, engine, source_scratch.raw_data());
      compiled.source_reorder->execute(stream, user_source, source);
    }
    if (compiled.destination_reorder) {
      destination_scratch = bytes_scratch(compiled.destination_desc.get_size());
      destination = memory(compiled.destination_desc, engine, destination_scratch.raw_data());
    }
    const Tensor scratchpad = bytes_scratch(compiled.scratchpad_desc.get_size());
    std::unordered_map<int, memory> arguments{
        {DNNL_ARG_SRC, source},
        {DNNL_ARG_WEIGHTS, memory(compiled.weights_desc, engine, compiled.weights->raw_data())},
        {DNNL_ARG_DST, destination},
        {DNNL_ARG_SCRATCHPAD, memory(compiled.scratchpad_desc, engine, scratchpad.raw_data())}};
    if (bias_f32_.defined())
      arguments.emplace(DNNL_ARG_BIAS, memory(bias_desc(), engine, bias_f32_.raw_data()));
    compiled.primitive.execute(stream, arguments);
    if (compiled.destination_reorder)
      compiled.destination_reorder->execute(stream, destination, user_destination);
    stream.wait();
  }

 private:
  struct Compiled {
    dnnl::convolution_forward primitive;
    memory::desc source_desc, destination_desc, weights_desc, scratchpad_desc;
    memory::desc user_source_desc, user_destination_desc;              // the caller's plain tensors
    std::optional<dnnl::reorder> source_reorder, destination_reorder;  // absent when no layout/dtype change
    const Tensor* weights = nullptr;                                   // packed in weights_desc
  };
  using Key = std::tuple<memory::dims, DType, DType>;

  static Tensor bytes_scratch(size_t bytes) {
    return empty({std::max<int64_t>(static_cast<int64_t>(bytes), 1)}, DType::u8, host_device());
  }

  memory::desc bias_desc() const {
    return memory::desc({weight_shape_.at(0)}, memory::data_type::f32, tag::a);
  }

  memory::dims output_dims(const memory::dims& source_dims) const {
    Shape output = output_shape(Shape(source_dims.begin(), source_dims.end()));
    return memory::dims(output.begin(), output.end());
  }

  // `compute`: the dtype of the source and weights (f32, or bf16 for the native primitive); `output` that of
  // the destination.
  dnnl::convolution_forward::primitive_desc make_descriptor(const memory::dims& source_dims,
                                                            const memory::dims& destination_dims,
                                                            DType compute, DType output) const {
    const auto type = onednn_data_type(compute);
    const memory::desc source(source_dims, type, tag::any), weights(weight_dims(), type, tag::any),
        destination(destination_dims, onednn_data_type(output), tag::any);
    const auto kind = dnnl::prop_kind::forward_inference;
    const auto algorithm = dnnl::algorithm::convolution_direct;
    const auto description =
        bias_f32_.defined()
            ? dnnl::convolution_forward::desc(kind, algorithm, source, weights, bias_desc(), destination,
                                              strides_, dilation_, padding_begin_, padding_end_)
            : dnnl::convolution_forward::desc(kind, algorithm, source, weights, destination, strides_,
                                              dilation_, padding_begin_, padding_end_);
    dnnl::primitive_attr attributes;
    attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return dnnl::convolution_forward::primitive_desc(description, attributes, onednn_engine());
  }

  memory::dims weight_dims() const { return memory::dims(weight_shape_.begin(), weight_shape_.end()); }
  memory::desc plain_weights_desc(DType dtype) const {
    return memory::desc(weight_dims(), onednn_data_type(dtype),
                        plain_tag(static_cast<int>(weight_shape_.size())));
  }

  // Reorders `source` into a new packed copy in `desc` and keeps it.
  const Tensor& pack_weights(memory source, const memory::desc& desc) {
    Tensor packed = bytes_scratch(desc.get_size());
    memory target(desc, onednn_engine(), packed.raw_data());
    onednn_build("conv", "the weight reorder", [&] {
      return dnnl::reorder(source, target);
    }).execute(onednn_stream(), source, target);
    onednn_stream().wait();
    packed_weights_.emplace_back(desc, std::move(packed));
    return packed_weights_.back().second;
  }

  // The weights in `desc`: the copy packed at load, or (if a shape ever wants another layout) a repack of it.
  const Tensor& packed_weights_for(const memory::desc& desc) {
    for (const auto& [packed_desc, packed] : packed_weights_)
      if (packed_desc == desc) return packed;
    const auto& [first_desc, first] = packed_weights_.front();
    return pack_weights(memory(first_desc, onednn_engine(), first.raw_data()), desc);
  }

  Compiled compiled_for(const memory::dims& source_dims, DType source_dtype, DType destination_dtype) {
    std::lock_guard<std::mutex> lock(mutex_);
    const Key key{source_dims, source_dtype, destination_dtype};
    auto found = compiled_.find(key);
    if (found != compiled_.end()) return found->second;
    if (compiled_.size() >= kMaxCachedShapes) compiled_.clear();
    const memory::dims destination_dims = output_dims(source_dims);
    const std::string what =
        concat("a convolution of input ", shape_to_string(Shape(source_dims.begin(), source_dims.end())));
    // bf16 in (and out) on the native bf16 primitive; everything else computes in f32.
    const bool native = native_bf16_ && source_dtype == DType::bf16;
    const DType compute = native ? DType::bf16 : DType::f32;
    const DType output = native && destination_dtype == DType::bf16 ? DType::bf16 : DType::f32;
    return onednn_build("conv", what, [&]() -> Compiled {
      const auto descriptor = make_descriptor(source_dims, destination_dims, compute, output);
      const int rank = static_cast<int>(source_dims.size());
      Compiled compiled{dnnl::convolution_forward(descriptor),
                        descriptor.src_desc(),
                        descriptor.dst_desc(),
                        descriptor.weights_desc(),
                        descriptor.scratchpad_desc(),
                        memory::desc(source_dims, onednn_data_type(source_dtype), plain_tag(rank)),
                        memory::desc(destination_dims, onednn_data_type(destination_dtype), plain_tag(rank)),
                        std::nullopt,
                        std::nullopt,
                        nullptr};
      const dnnl::engine& engine = onednn_engine();
      if (compiled.user_source_desc != compiled.source_desc)
        compiled.source_reorder.emplace(
            dnnl::reorder::primitive_desc(engine, compiled.user_source_desc, engine, compiled.source_desc));
      if (compiled.user_destination_desc != compiled.destination_desc)
        compiled.destination_reorder.emplace(dnnl::reorder::primitive_desc(
            engine, compiled.destination_desc, engine, compiled.user_destination_desc));
      compiled.weights = &packed_weights_for(compiled.weights_desc);
      return compiled_.emplace(key, std::move(compiled)).first->second;
    });
  }

  std::mutex mutex_;
  bool native_bf16_ = false;  // bf16 weights packed in bf16 for oneDNN's native bf16 convolution
  Tensor bias_f32_;           // undefined: no bias
  memory::dims strides_, dilation_, padding_begin_, padding_end_;
  // Packed weights per layout (in practice one, in f32 or bf16); a list so that references stay valid.
  std::list<std::pair<memory::desc, Tensor>> packed_weights_;
  std::map<Key, Compiled> compiled_;
};

}  // namespace

void register_cpu_conv(KernelRegistries& kernels) {
  kernels.conv.add(
      "onednn_conv", [] { return std::make_unique<OnednnConv>(); },
      "oneDNN convolution, 2-D and 3-D, per-side padding; f32 compute, or native bf16 for bf16 weights and "
      "inputs where the CPU has it; f32/bf16/f16 in and out");
}

}  // namespace x2v
