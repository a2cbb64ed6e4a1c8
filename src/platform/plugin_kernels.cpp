// Plugin kernels as x2v op-template kernels: x2v's own argument checks, the declared traits (a dtype the
// kernel did not declare never reaches it), then the plugin's load/apply with its views.
#include <cmath>
#include <mutex>
#include <utility>
#include <vector>

#include "platform/host_fallback.h"
#include "platform/platform.h"
#include "platform/plugin_adapters.h"

namespace x2v {

bool traits_from_abi(const x2v_kernel_desc& desc, KernelCategory category, KernelTraits* traits,
                     std::string* problem) {
  *traits = KernelTraits{};
  for (int32_t code = 0; code < 32; ++code) {
    if ((desc.dtypes & X2V_DTYPE_BIT(code)) == 0) continue;
    DType dtype;
    if (!dtype_from_abi(code, &dtype) ||
        (dtype != DType::f32 && dtype != DType::bf16 && dtype != DType::f16)) {
      *problem = concat("dtypes declares code ", code, "; activations are X2V_DTYPE_F32, _BF16 or _F16");
      return false;
    }
    traits->dtypes.push_back(dtype);
  }
  if (desc.quant_format != X2V_QUANT_NONE) {
    if (category != KernelCategory::mm) {
      *problem = "quant_format is set, but only mm kernels take quantized weights";
      return false;
    }
    if (desc.quant_format == X2V_QUANT_INT8) {
      traits->quant = QuantFormat::int8;
    } else if (desc.quant_format == X2V_QUANT_FP8_E4M3) {
      traits->quant = QuantFormat::fp8_e4m3;
    } else {
      *problem = concat("unknown quant_format ", desc.quant_format, " (use an X2V_QUANT_* code)");
      return false;
    }
  }
  if ((desc.flags & ~X2V_KERNEL_FLAG_BIAS) != 0) {
    *problem = concat("unknown flags ", desc.flags, " (use X2V_KERNEL_FLAG_* bits)");
    return false;
  }
  if ((desc.flags & X2V_KERNEL_FLAG_BIAS) != 0 && category != KernelCategory::attention) {
    *problem = "X2V_KERNEL_FLAG_BIAS is set, but only attention kernels take a bias";
    return false;
  }
  traits->bias = (desc.flags & X2V_KERNEL_FLAG_BIAS) != 0;
  return true;
}

namespace {

std::string dtype_list(const KernelTraits& traits) {
  if (traits.dtypes.empty()) return "f32, bf16, f16";
  std::string text;
  for (DType dtype : traits.dtypes) text += (text.empty() ? "" : ", ") + std::string(dtype_name(dtype));
  return text;
}

// One plugin kernel instance: create/destroy, and load/apply calls with their views and error checks.
class PluginKernelHandle {
 public:
  explicit PluginKernelHandle(std::shared_ptr<const PluginKernelSpec> spec) : spec_(std::move(spec)) {
    std::string problem;
    traits_from_abi(spec_->desc, spec_->category, &traits_, &problem);  // validated at registration
    const x2v_kernel_desc& desc = spec_->desc;
    if (desc.create == nullptr) {
      instance_ = desc.user;
      return;
    }
    instance_ = desc.create(desc.user);
    if (instance_ == nullptr)
      throw Error("plugin", concat(what(), ": the plugin could not create an instance"));
  }
  ~PluginKernelHandle() {
    if (spec_->desc.create != nullptr && spec_->desc.destroy != nullptr) spec_->desc.destroy(instance_);
  }
  PluginKernelHandle(const PluginKernelHandle&) = delete;
  PluginKernelHandle& operator=(const PluginKernelHandle&) = delete;

  const PluginKernelSpec& spec() const { return *spec_; }
  const KernelTraits& traits() const { return traits_; }
  bool loaded() const { return loaded_; }

  // Refuses an activation the kernel did not declare, before the plugin sees it.
  void check_dtypes(std::initializer_list<const Tensor*> activations) const {
    for (const Tensor* tensor : activations)
      if (tensor->defined() && !traits_.accepts(tensor->dtype()))
        throw Error("plugin", concat(what(), " declares dtypes ", dtype_list(traits_), "; it was given ",
                                     tensor->describe(), ". Choose another kernel, or convert first"));
  }

  // The tensors stay referenced until the instance is destroyed, as the ABI promises.
  void load(std::vector<Tensor> tensors, const std::vector<float>& params,
            const std::vector<int64_t>& int_params) {
    if (spec_->desc.load != nullptr) call("load", spec_->desc.load, tensors, {}, params, int_params);
    kept_tensors_ = std::move(tensors);
    loaded_ = true;
  }

  void apply(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
             const std::vector<float>& params, const std::vector<int64_t>& int_params) {
    call("apply", spec_->desc.apply, inputs, outputs, params, int_params);
  }

  std::string what() const {
    return concat(category_name(spec_->category), " kernel '", spec_->name, "' on platform '",
                  spec_->platform, "' (", spec_->plugin, ")");
  }

 private:
  // A tensor of another device would be read at an address the plugin cannot use: refuse it here.
  void check_device(const Tensor& tensor) const {
    const Device* device = spec_->device;
    if (!tensor.defined() || device == nullptr || tensor.device() == device) return;
    if (device->host_accessible() && tensor.is_host_accessible()) return;
    throw Error("plugin", concat(what(), " was given ", tensor.describe(), " of device '",
                                 tensor.device() != nullptr ? tensor.device()->device_string() : "host",
                                 "'; move it to '", device->device_string(), "' first (ops::to_device)"));
  }

  void call(const char* stage, int (*function)(void*, const x2v_kernel_args*),
            const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            const std::vector<float>& params, const std::vector<int64_t>& int_params) {
    for (const std::vector<Tensor>* tensors : {&inputs, &outputs})
      for (const Tensor& tensor : *tensors) check_device(tensor);
    std::vector<x2v_tensor_view> input_views;
    std::vector<x2v_tensor_view> output_views;
    for (const Tensor& tensor : inputs) input_views.push_back(make_tensor_view(tensor));
    for (const Tensor& tensor : outputs) output_views.push_back(make_tensor_view(tensor));
    x2v_kernel_args args{};
    args.struct_size = sizeof(args);
    args.inputs = input_views.data();
    args.input_count = static_cast<int32_t>(input_views.size());
    args.outputs = output_views.data();
    args.output_count = static_cast<int32_t>(output_views.size());
    args.params = params.data();
    args.param_count = static_cast<int32_t>(params.size());
    args.int_params = int_params.data();
    args.int_param_count = static_cast<int32_t>(int_params.size());
    auto* plugin_device = dynamic_cast<PluginDevice*>(spec_->device);
    args.stream = plugin_device != nullptr
                      ? plugin_stream_handle(plugin_device->compute_stream(), *plugin_device)
                      : nullptr;
    // The ABI promises a plugin never sees one instance called concurrently.
    std::lock_guard<std::mutex> lock(mutex_);
    const int status = function(instance_, &args);
    if (status == X2V_OK) return;
    const char* message = spec_->desc.last_error != nullptr ? spec_->desc.last_error(instance_) : nullptr;
    throw Error("plugin",
                concat(what(), " failed in ", stage, " (status ", status, "): ",
                       message != nullptr && message[0] != '\0' ? message : "the plugin gave no message",
                       ". Its declared traits (dtypes ", dtype_list(traits_), traits_.bias ? ", bias" : "",
                       traits_.quant != QuantFormat::none ? ", quantized" : "",
                       ") promise this call works: fix the kernel or what it declares"));
  }

  std::shared_ptr<const PluginKernelSpec> spec_;
  KernelTraits traits_;
  void* instance_ = nullptr;
  bool loaded_ = false;
  std::vector<Tensor> kept_tensors_;
  std::mutex mutex_;
};

class PluginAttentionKernel : public AttentionKernel {
 public:
  explicit PluginAttentionKernel(std::shared_ptr<const PluginKernelSpec> spec) : handle_(std::move(spec)) {}
  bool supports_bias() const override { return handle_.traits().bias; }
  void load(const AttentionOptions& options) override {
    AttentionKernel::load(options);
    handle_.load({}, {options.scale}, {});
  }

 protected:
  void run(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
           const AttentionCall& call) override {
    check_attention_arguments(q, k, v, out, call);
    handle_.check_dtypes({&q, &k, &v, &out});
    if (!handle_.loaded()) load(options_);
    const float scale =
        options_.scale != 0.0f ? options_.scale : 1.0f / std::sqrt(static_cast<float>(q.size(-1)));
    handle_.apply({q, k, v, call.bias}, {out}, {scale}, call.key_lengths);
  }

 private:
  PluginKernelHandle handle_;
};

class PluginMatmulKernel : public MatmulKernel {
 public:
  explicit PluginMatmulKernel(std::shared_ptr<const PluginKernelSpec> spec) : handle_(std::move(spec)) {}
  QuantFormat quantized_format() const override { return handle_.traits().quant; }
  void load(const Tensor& weight, const Tensor& bias) override {
    if (quantized_format() != QuantFormat::none)
      throw Error("mm", concat(handle_.what(), " takes ", quant_format_name(quantized_format()),
                               " weights; load it with quantized weights (a quantized checkpoint or "
                               "weight_auto_quant)"));
    check_weights(weight, bias);
    handle_.load({weight, bias}, {}, {});
  }
  void load_quantized(const QuantizedWeight& weight, const Tensor& bias) override {
    if (quantized_format() == QuantFormat::none) MatmulKernel::load_quantized(weight, bias);  // throws
    check_quantized_weights(weight, bias, quantized_format());
    handle_.load({weight.weight, weight.scale.reshape({weight.scale.numel()}), bias}, {}, {});
  }
  void apply(const Tensor& x, Tensor& y) override {
    if (!handle_.loaded()) throw Error("mm", "apply before load: the kernel has no weight");
    check_call(x, y);
    handle_.check_dtypes({&x, &y});
    handle_.apply({x}, {y}, {}, {});
  }

 private:
  PluginKernelHandle handle_;
};

class PluginRmsNormKernel : public RmsNormKernel {
 public:
  explicit PluginRmsNormKernel(std::shared_ptr<const PluginKernelSpec> spec) : handle_(std::move(spec)) {}
  void load(const Tensor& weight, float eps) override {
    RmsNormKernel::load(weight, eps);
    handle_.load({weight}, {eps}, {});
  }
  void apply(const Tensor& x, Tensor& out) override {
    check_norm_arguments("rms_norm", x, out, weight_, Tensor());
    handle_.check_dtypes({&x, &out});
    if (!handle_.loaded()) load(weight_, eps_);
    handle_.apply({x}, {out}, {}, {});
  }

 private:
  PluginKernelHandle handle_;
};

class PluginLayerNormKernel : public LayerNormKernel {
 public:
  explicit PluginLayerNormKernel(std::shared_ptr<const PluginKernelSpec> spec) : handle_(std::move(spec)) {}
  void load(const Tensor& weight, const Tensor& bias, float eps) override {
    LayerNormKernel::load(weight, bias, eps);
    handle_.load({weight, bias}, {eps}, {});
  }
  void apply(const Tensor& x, Tensor& out) override {
    check_norm_arguments("layer_norm", x, out, weight_, bias_);
    handle_.check_dtypes({&x, &out});
    if (!handle_.loaded()) load(weight_, bias_, eps_);
    handle_.apply({x}, {out}, {}, {});
  }

 private:
  PluginKernelHandle handle_;
};

class PluginRopeKernel : public RopeKernel {
 public:
  explicit PluginRopeKernel(std::shared_ptr<const PluginKernelSpec> spec) : handle_(std::move(spec)) {}
  void apply(const Tensor& x, const RopeTables& tables, Tensor& out) override {
    check_rope_arguments(x, tables, out);
    handle_.check_dtypes({&x, &out});
    if (!handle_.loaded()) handle_.load({}, {}, {});
    handle_.apply({x, tables.cos, tables.sin}, {out}, {}, {});
  }

 private:
  PluginKernelHandle handle_;
};

class PluginConvKernel : public ConvKernel {
 public:
  explicit PluginConvKernel(std::shared_ptr<const PluginKernelSpec> spec) : handle_(std::move(spec)) {}
  void load(const Tensor& weight, const Tensor& bias, const ConvOptions& options) override {
    check_and_store(weight, bias, options);
    std::vector<int64_t> int_params = {options_.spatial_dims};
    for (const auto* values : {&options_.stride, &options_.pad_begin, &options_.pad_end, &options_.dilation})
      int_params.insert(int_params.end(), values->begin(), values->end());
    handle_.load({weight, bias}, {}, int_params);
  }
  void apply(const Tensor& x, Tensor& out) override {
    if (!handle_.loaded()) throw Error("conv", "apply before load: the kernel has no weight");
    const Shape expected = output_shape(x.shape());
    if (!out.defined() || out.shape() != expected)
      throw Error("conv", concat("out is ", out.describe(), "; expected shape ", shape_to_string(expected)));
    handle_.check_dtypes({&x, &out});
    handle_.apply({x}, {out}, {}, {});
  }

 private:
  PluginKernelHandle handle_;
};

class PluginElementwiseKernel : public ElementwiseKernel {
 public:
  explicit PluginElementwiseKernel(std::shared_ptr<const PluginKernelSpec> spec) : handle_(std::move(spec)) {}
  void load(const std::vector<float>& params) override {
    ElementwiseKernel::load(params);
    handle_.load({}, params, {});
    if (fallback_) fallback_->load(params);
  }
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    // fill is the one op without inputs (ops/elementwise.h).
    if (inputs.empty() && handle_.spec().name != "fill") throw Error("elementwise", "no inputs");
    for (const Tensor& input : inputs)
      if (!input.defined()) throw Error("elementwise", "an input is missing");
    if (!out.defined()) throw Error("elementwise", "out is missing");
    // A dtype the op did not declare (a copy of int8 weights, say) runs the host's op through copies on a
    // plugin device; on cpu the dtype check below names the problem.
    bool declared = handle_.traits().accepts(out.dtype());
    for (const Tensor& input : inputs) declared = declared && handle_.traits().accepts(input.dtype());
    Device* device = handle_.spec().device;
    if (!declared && device != nullptr && device->name() != "cpu") {
      if (!fallback_) {
        fallback_ = make_host_fallback<ElementwiseKernel>(*device, host_device(), handle_.spec().name);
        fallback_->load(params_);
      }
      return fallback_->apply(inputs, out);
    }
    for (const Tensor& input : inputs) handle_.check_dtypes({&input});
    handle_.check_dtypes({&out});
    if (!handle_.loaded()) load(params_);
    handle_.apply(inputs, {out}, params_, {});
  }

 private:
  PluginKernelHandle handle_;
  std::unique_ptr<ElementwiseKernel> fallback_;
};

// The adapter class of each op template.
template <class Kernel>
using PluginAdapterFor =
    KernelClass<Kernel, PluginAttentionKernel, PluginMatmulKernel, PluginRmsNormKernel, PluginLayerNormKernel,
                PluginRopeKernel, PluginConvKernel, PluginElementwiseKernel>;

}  // namespace

void add_plugin_kernel(KernelRegistries& kernels, std::shared_ptr<const PluginKernelSpec> spec) {
  KernelTraits traits;
  std::string problem;
  if (!traits_from_abi(spec->desc, spec->category, &traits, &problem))
    throw InternalError("plugin",
                        concat("kernel '", spec->name, "' passed registration with bad traits: ", problem));
  std::string description =
      spec->description.empty() ? concat("from plugin ", spec->plugin) : spec->description;
  visit_registry(kernels, spec->category, [&](auto& registry) {
    using Kernel = typename std::remove_reference_t<decltype(registry)>::KernelType;
    using Adapter = PluginAdapterFor<Kernel>;
    registry.add(
        spec->name, [spec]() -> std::unique_ptr<Kernel> { return std::make_unique<Adapter>(spec); },
        std::move(description), std::move(traits));
  });
}

}  // namespace x2v
