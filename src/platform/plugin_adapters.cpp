#include "platform/plugin_adapters.h"

#include <cmath>
#include <mutex>
#include <utility>
#include <vector>

namespace x2v {

// ---- Dtypes and views ------------------------------------------------------------------------------

int32_t dtype_to_abi(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return X2V_DTYPE_F32;
    case DType::bf16:
      return X2V_DTYPE_BF16;
    case DType::f16:
      return X2V_DTYPE_F16;
    case DType::f8_e4m3:
      return X2V_DTYPE_F8_E4M3;
    case DType::f8_e5m2:
      return X2V_DTYPE_F8_E5M2;
    case DType::i8:
      return X2V_DTYPE_I8;
    case DType::i32:
      return X2V_DTYPE_I32;
    case DType::u8:
      return X2V_DTYPE_U8;
  }
  throw InternalError("plugin", concat("dtype ", static_cast<int>(dtype), " has no ABI code"));
}

bool dtype_from_abi(int32_t code, DType* dtype) {
  switch (code) {
    case X2V_DTYPE_F32:
      *dtype = DType::f32;
      return true;
    case X2V_DTYPE_BF16:
      *dtype = DType::bf16;
      return true;
    case X2V_DTYPE_F16:
      *dtype = DType::f16;
      return true;
    case X2V_DTYPE_F8_E4M3:
      *dtype = DType::f8_e4m3;
      return true;
    case X2V_DTYPE_F8_E5M2:
      *dtype = DType::f8_e5m2;
      return true;
    case X2V_DTYPE_I8:
      *dtype = DType::i8;
      return true;
    case X2V_DTYPE_I32:
      *dtype = DType::i32;
      return true;
    case X2V_DTYPE_U8:
      *dtype = DType::u8;
      return true;
    default:
      return false;
  }
}

x2v_tensor_view make_tensor_view(const Tensor& tensor) {
  x2v_tensor_view view{};
  if (!tensor.defined()) return view;
  static_assert(kMaxTensorDims <= X2V_MAX_DIMS, "the ABI view must hold every tensor rank");
  view.data = tensor.raw_data();
  view.dtype = dtype_to_abi(tensor.dtype());
  view.ndim = tensor.ndim();
  for (int dim = 0; dim < tensor.ndim(); ++dim) {
    view.shape[dim] = tensor.shape()[dim];
    view.strides[dim] = tensor.strides()[dim];
  }
  return view;
}

const char* plugin_kernel_category_name(int32_t category) {
  switch (category) {
    case X2V_KERNEL_ATTENTION:
      return "attention";
    case X2V_KERNEL_MM:
      return "mm";
    case X2V_KERNEL_RMS_NORM:
      return "rms_norm";
    case X2V_KERNEL_LAYER_NORM:
      return "layer_norm";
    case X2V_KERNEL_ROPE:
      return "rope";
    case X2V_KERNEL_CONV:
      return "conv";
    case X2V_KERNEL_ELEMENTWISE:
      return "elementwise";
    default:
      return nullptr;
  }
}

// ---- Device ----------------------------------------------------------------------------------------

namespace {

// Work runs on the calling thread at once; the plugin's own queue is drained by synchronize.
class PluginStream : public Stream {
 public:
  explicit PluginStream(PluginDevice& device) : device_(device) {}
  void enqueue(std::function<void()> work) override { work(); }
  void synchronize() override { device_.synchronize_device(); }
  void wait(Event& event) override { event.synchronize(); }

 private:
  PluginDevice& device_;
};

// The ABI has no fine-grained events, so an event is "everything issued so far": waiting on it drains
// the device.
class PluginEvent : public Event {
 public:
  explicit PluginEvent(PluginDevice& device) : device_(device) {}
  void record(Stream&) override { recorded_ = true; }
  void synchronize() override {
    if (recorded_) device_.synchronize_device();
  }
  bool query() override {
    synchronize();
    return true;
  }

 private:
  PluginDevice& device_;
  bool recorded_ = false;
};

int32_t copy_kind_to_abi(CopyKind kind) {
  switch (kind) {
    case CopyKind::host_to_device:
      return X2V_COPY_HOST_TO_DEVICE;
    case CopyKind::device_to_host:
      return X2V_COPY_DEVICE_TO_HOST;
    case CopyKind::device_to_device:
      return X2V_COPY_DEVICE_TO_DEVICE;
  }
  throw InternalError("plugin", "unknown copy kind");
}

}  // namespace

PluginDevice::PluginDevice(const x2v_device_desc& desc, std::string plugin)
    : Device(desc.name), desc_(desc), plugin_(std::move(plugin)), name_(desc.name) {
  device_string_ =
      desc.device_string != nullptr && desc.device_string[0] != '\0' ? desc.device_string : name_;
  // The strings now live here; the plugin's may have been on its stack.
  desc_.name = nullptr;
  desc_.device_string = nullptr;
  allocator_.emplace(
      name_, [this](size_t bytes) { return desc_.alloc(desc_.user, bytes); },
      [this](void* pointer, size_t bytes) { desc_.free(desc_.user, pointer, bytes); });
  compute_stream_ = std::make_unique<PluginStream>(*this);
}

PluginDevice::~PluginDevice() {
  allocator_.reset();  // returns cached blocks through the plugin's free while it is still alive
  if (adopted_ && desc_.destroy != nullptr) desc_.destroy(desc_.user);
}

bool PluginDevice::is_available() const {
  return desc_.is_available == nullptr || desc_.is_available(desc_.user) != 0;
}

std::unique_ptr<Stream> PluginDevice::create_stream() {
  return std::make_unique<PluginStream>(*this);
}

std::unique_ptr<Event> PluginDevice::create_event() {
  return std::make_unique<PluginEvent>(*this);
}

void PluginDevice::copy_async(const void* source, void* target, size_t bytes, CopyKind kind, Stream& stream) {
  const int32_t code = copy_kind_to_abi(kind);
  stream.enqueue([this, source, target, bytes, code] {
    if (desc_.copy(desc_.user, source, target, bytes, code) != X2V_OK)
      throw Error("plugin", plugin_error(concat("copying ", format_bytes(bytes)).c_str()));
  });
}

void PluginDevice::synchronize_device() {
  if (desc_.synchronize(desc_.user) != X2V_OK) throw Error("plugin", plugin_error("synchronize"));
}

std::string PluginDevice::plugin_error(const char* what) const {
  const char* message = desc_.last_error != nullptr ? desc_.last_error(desc_.user) : nullptr;
  return concat(
      "device '", name_, "' (", plugin_, "): ", what, " failed",
      message != nullptr && message[0] != '\0' ? concat(": ", message) : std::string(" (no message)"));
}

// ---- Kernels ---------------------------------------------------------------------------------------

namespace {

// One plugin kernel instance: create/destroy, and load/apply calls with their views and error checks.
class PluginKernelHandle {
 public:
  explicit PluginKernelHandle(std::shared_ptr<const PluginKernelSpec> spec) : spec_(std::move(spec)) {
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
  bool loaded() const { return loaded_; }

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

 private:
  std::string what() const {
    return concat(plugin_kernel_category_name(spec_->category), " kernel '", spec_->name, "' on platform '",
                  spec_->platform, "' (", spec_->plugin, ")");
  }

  void call(const char* stage, int (*function)(void*, const x2v_kernel_args*),
            const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            const std::vector<float>& params, const std::vector<int64_t>& int_params) {
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
    // The ABI promises a plugin never sees one instance called concurrently.
    std::lock_guard<std::mutex> lock(mutex_);
    const int status = function(instance_, &args);
    if (status == X2V_OK) return;
    const char* message = spec_->desc.last_error != nullptr ? spec_->desc.last_error(instance_) : nullptr;
    throw Error("plugin",
                concat(what(), " failed in ", stage, " (status ", status, "): ",
                       message != nullptr && message[0] != '\0' ? message : "the plugin gave no message"));
  }

  std::shared_ptr<const PluginKernelSpec> spec_;
  void* instance_ = nullptr;
  bool loaded_ = false;
  std::vector<Tensor> kept_tensors_;
  std::mutex mutex_;
};

class PluginAttentionKernel : public AttentionKernel {
 public:
  explicit PluginAttentionKernel(std::shared_ptr<const PluginKernelSpec> spec) : handle_(std::move(spec)) {}
  void load(const AttentionOptions& options) override {
    AttentionKernel::load(options);
    handle_.load({}, {options.scale}, options.key_lengths);
  }
  void apply(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out) override {
    check_attention_arguments(q, k, v, out, options_);
    if (!handle_.loaded()) load(options_);
    const float scale =
        options_.scale != 0.0f ? options_.scale : 1.0f / std::sqrt(static_cast<float>(q.size(-1)));
    handle_.apply({q, k, v}, {out}, {scale}, options_.key_lengths);
  }

 private:
  PluginKernelHandle handle_;
};

class PluginMatmulKernel : public MatmulKernel {
 public:
  explicit PluginMatmulKernel(std::shared_ptr<const PluginKernelSpec> spec) : handle_(std::move(spec)) {}
  void load(const Tensor& weight, const Tensor& bias) override {
    check_weights(weight, bias);
    handle_.load({weight, bias}, {}, {});
  }
  void apply(const Tensor& x, Tensor& y) override {
    if (!handle_.loaded()) throw Error("mm", "apply before load: the kernel has no weight");
    check_call(x, y);
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
    if (!handle_.loaded()) load(weight_, bias_, eps_);
    handle_.apply({x}, {out}, {}, {});
  }

 private:
  PluginKernelHandle handle_;
};

class PluginRopeKernel : public RopeKernel {
 public:
  explicit PluginRopeKernel(std::shared_ptr<const PluginKernelSpec> spec) : handle_(std::move(spec)) {}
  void load(const RopeOptions& options) override {
    RopeKernel::load(options);
    handle_.load({}, {static_cast<float>(options.theta)}, {options.head_dim});
  }
  void apply(const Tensor& x, const RopeGrid& grid, Tensor& out) override {
    check_rope_arguments(x, grid, out, options_);
    if (!handle_.loaded()) load(options_);
    handle_.apply({x}, {out}, {}, {grid.frames, grid.height, grid.width});
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
  }
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    // fill is the one op without inputs (ops/elementwise.h).
    if (inputs.empty() && handle_.spec().name != "fill") throw Error("elementwise", "no inputs");
    for (const Tensor& input : inputs)
      if (!input.defined()) throw Error("elementwise", "an input is missing");
    if (!out.defined()) throw Error("elementwise", "out is missing");
    if (!handle_.loaded()) load(params_);
    handle_.apply(inputs, {out}, params_, {});
  }

 private:
  PluginKernelHandle handle_;
};

// Calls `visit` with the registry of `category`.
template <class Visit>
decltype(auto) visit_registry(KernelRegistries& kernels, int32_t category, Visit&& visit) {
  switch (category) {
    case X2V_KERNEL_ATTENTION:
      return visit(kernels.attention);
    case X2V_KERNEL_MM:
      return visit(kernels.mm);
    case X2V_KERNEL_RMS_NORM:
      return visit(kernels.rms_norm);
    case X2V_KERNEL_LAYER_NORM:
      return visit(kernels.layer_norm);
    case X2V_KERNEL_ROPE:
      return visit(kernels.rope);
    case X2V_KERNEL_CONV:
      return visit(kernels.conv);
    case X2V_KERNEL_ELEMENTWISE:
      return visit(kernels.elementwise);
  }
  throw InternalError("plugin", concat("unknown kernel category ", category));
}

template <class Adapter, class Kernel>
void add_adapter(KernelRegistry<Kernel>& registry, std::shared_ptr<const PluginKernelSpec> spec) {
  const std::string name = spec->name;
  std::string description =
      spec->description.empty() ? concat("from plugin ", spec->plugin) : spec->description;
  registry.add(
      name, [spec]() -> std::unique_ptr<Kernel> { return std::make_unique<Adapter>(spec); },
      std::move(description));
}

}  // namespace

void add_plugin_kernel(KernelRegistries& kernels, std::shared_ptr<const PluginKernelSpec> spec) {
  switch (spec->category) {
    case X2V_KERNEL_ATTENTION:
      return add_adapter<PluginAttentionKernel>(kernels.attention, std::move(spec));
    case X2V_KERNEL_MM:
      return add_adapter<PluginMatmulKernel>(kernels.mm, std::move(spec));
    case X2V_KERNEL_RMS_NORM:
      return add_adapter<PluginRmsNormKernel>(kernels.rms_norm, std::move(spec));
    case X2V_KERNEL_LAYER_NORM:
      return add_adapter<PluginLayerNormKernel>(kernels.layer_norm, std::move(spec));
    case X2V_KERNEL_ROPE:
      return add_adapter<PluginRopeKernel>(kernels.rope, std::move(spec));
    case X2V_KERNEL_CONV:
      return add_adapter<PluginConvKernel>(kernels.conv, std::move(spec));
    case X2V_KERNEL_ELEMENTWISE:
      return add_adapter<PluginElementwiseKernel>(kernels.elementwise, std::move(spec));
  }
  throw InternalError("plugin", concat("unknown kernel category ", spec->category));
}

bool has_kernel(KernelRegistries& kernels, int32_t category, const std::string& name) {
  return visit_registry(kernels, category, [&](auto& registry) { return registry.contains(name); });
}

void add_kernel_alias(KernelRegistries& kernels, int32_t category, const std::string& alias,
                      const std::string& target) {
  visit_registry(kernels, category, [&](auto& registry) { registry.alias(alias, target); });
}

}  // namespace x2v
