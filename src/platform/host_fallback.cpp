#include "platform/host_fallback.h"

#include <algorithm>

#include "core/log.h"

namespace x2v {

// ---- HostMirror ----------------------------------------------------------------------------------------

namespace {

// Bytes [begin, end) of the storage a view reaches (strides are never negative in x2v).
std::pair<size_t, size_t> byte_range(const Tensor& tensor) {
  int64_t last = 0;
  for (int dim = 0; dim < tensor.ndim(); ++dim) {
    if (tensor.stride(dim) < 0) throw InternalError("host fallback", "negative strides are not supported");
    last += (tensor.size(dim) - 1) * tensor.stride(dim);
  }
  const size_t element = tensor.element_size();
  const size_t begin = static_cast<size_t>(tensor.offset()) * element;
  return {begin, begin + (tensor.numel() == 0 ? 0 : static_cast<size_t>(last + 1) * element)};
}

std::string device_string_of(const Tensor& tensor) {
  return tensor.device() != nullptr ? tensor.device()->device_string() : "host";
}

}  // namespace

size_t HostMirror::add(const Tensor& tensor, bool written) {
  tensors_.push_back(tensor);
  written_.push_back(written);
  region_of_.push_back(SIZE_MAX);
  if (!tensor.defined() || tensor.device() != &device_) return tensors_.size() - 1;
  auto [begin, end] = byte_range(tensor);
  begin -= begin % 8;  // aligned for every dtype's element offset
  for (size_t index = 0; index < regions_.size(); ++index) {
    Region& region = regions_[index];
    if (region.storage != tensor.storage().get()) continue;
    region.begin = std::min(region.begin, begin);
    region.end = std::max(region.end, end);
    region_of_.back() = index;
    return tensors_.size() - 1;
  }
  regions_.push_back(Region{tensor.storage().get(), begin, end, Tensor()});
  region_of_.back() = regions_.size() - 1;
  return tensors_.size() - 1;
}

void HostMirror::materialize() {
  for (Region& region : regions_) {
    region.buffer = Tensor::host({static_cast<int64_t>(region.end - region.begin)}, DType::u8);
    if (region.end > region.begin)
      device_.copy(static_cast<const char*>(region.storage->data) + region.begin, region.buffer.raw_data(),
                   region.end - region.begin, CopyKind::device_to_host);
  }
  views_.clear();
  for (size_t index = 0; index < tensors_.size(); ++index) {
    const Tensor& tensor = tensors_[index];
    if (region_of_[index] == SIZE_MAX) {
      if (tensor.defined() && !tensor.is_host_accessible())
        throw Error("host fallback",
                    concat("a tensor on '", device_string_of(tensor), "' reached a kernel of '",
                           device_.name(), "'; move it to one device first"));
      views_.push_back(tensor);
      continue;
    }
    const Region& region = regions_[region_of_[index]];
    const size_t element = tensor.element_size();
    const int64_t offset = static_cast<int64_t>((tensor.offset() * element - region.begin) / element);
    views_.push_back(
        Tensor(region.buffer.storage(), tensor.shape(), tensor.strides(), tensor.dtype(), offset));
  }
}

void HostMirror::write_back() {
  // Each written tensor's own bytes only: a gap between tensors of one storage may belong to someone else.
  for (size_t index = 0; index < tensors_.size(); ++index) {
    if (!written_[index] || region_of_[index] == SIZE_MAX) continue;
    const Region& region = regions_[region_of_[index]];
    const auto [begin, end] = byte_range(tensors_[index]);
    if (end > begin)
      device_.copy(static_cast<const char*>(region.buffer.raw_data()) + (begin - region.begin),
                   static_cast<char*>(region.storage->data) + begin, end - begin, CopyKind::host_to_device);
  }
}

Tensor HostMirror::to_host(const Tensor& tensor, Device& device) {
  HostMirror mirror(device);
  mirror.add(tensor, false);
  mirror.materialize();
  return mirror.host(0);
}

// ---- Fallback kernels ----------------------------------------------------------------------------------

namespace {

struct FallbackContext {
  Device* device;
  Device* host;
  std::string name;    // the host kernel
  std::string reason;  // which calls a device kernel hands over; empty: the device has no such kernel
};

void log_fallback(const FallbackContext& context, const char* category) {
  if (!context.reason.empty())
    return log_once(LogLevel::info, "platform",
                    concat(context.device->name(), " ", category, ": ", context.reason, " run the ",
                           context.host->name(), " kernel '", context.name, "' through host copies (slow)"));
  log_once(LogLevel::info, "platform",
           concat(context.device->name(), " has no native ", category, " kernel '", context.name,
                  "'; it runs the ", context.host->name(), " kernel through host copies (slow)"));
}

class FallbackAttention : public AttentionKernel {
 public:
  explicit FallbackAttention(FallbackContext context)
      : context_(std::move(context)), inner_(context_.host->kernels().attention.create(context_.name)) {
    log_fallback(context_, "attention");
  }
  bool supports_bias() const override { return inner_->supports_bias(); }
  void load(const AttentionOptions& options) override {
    AttentionKernel::load(options);
    inner_->load(options);
    loaded_ = true;
  }

 protected:
  void run(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
           const AttentionCall& call) override {
    if (!loaded_) load(options_);
    HostMirror mirror(*context_.device);
    for (const Tensor* input : {&q, &k, &v, &call.bias}) mirror.add(*input, false);
    mirror.add(out, true);
    mirror.materialize();
    Tensor host_out = mirror.host(4);
    inner_->apply(mirror.host(0), mirror.host(1), mirror.host(2), host_out,
                  AttentionCall{call.key_lengths, mirror.host(3)});
    mirror.write_back();
  }

 private:
  FallbackContext context_;
  std::unique_ptr<AttentionKernel> inner_;
  bool loaded_ = false;
};

class FallbackMatmul : public MatmulKernel {
 public:
  explicit FallbackMatmul(FallbackContext context)
      : context_(std::move(context)), inner_(context_.host->kernels().mm.create(context_.name)) {
    log_fallback(context_, "mm");
  }
  QuantFormat quantized_format() const override { return inner_->quantized_format(); }
  void load(const Tensor& weight, const Tensor& bias) override {
    inner_->load(HostMirror::to_host(weight, *context_.device), HostMirror::to_host(bias, *context_.device));
    in_features_ = inner_->in_features();
    out_features_ = inner_->out_features();
  }
  void load_quantized(const QuantizedWeight& weight, const Tensor& bias) override {
    const QuantizedWeight host_weight{HostMirror::to_host(weight.weight, *context_.device),
                                      HostMirror::to_host(weight.scale, *context_.device)};
    inner_->load_quantized(host_weight, HostMirror::to_host(bias, *context_.device));
    in_features_ = inner_->in_features();
    out_features_ = inner_->out_features();
  }
  void apply(const Tensor& x, Tensor& y) override {
    HostMirror mirror(*context_.device);
    mirror.add(x, false);
    mirror.add(y, true);
    mirror.materialize();
    Tensor host_y = mirror.host(1);
    inner_->apply(mirror.host(0), host_y);
    mirror.write_back();
  }

 private:
  FallbackContext context_;
  std::unique_ptr<MatmulKernel> inner_;
};

// One input, one output, host kernel `Inner` with apply(x, out).
template <class Inner>
void apply_unary(Device& device, Inner& inner, const Tensor& x, Tensor& out) {
  HostMirror mirror(device);
  mirror.add(x, false);
  mirror.add(out, true);
  mirror.materialize();
  Tensor host_out = mirror.host(1);
  inner.apply(mirror.host(0), host_out);
  mirror.write_back();
}

class FallbackRmsNorm : public RmsNormKernel {
 public:
  explicit FallbackRmsNorm(FallbackContext context)
      : context_(std::move(context)), inner_(context_.host->kernels().rms_norm.create(context_.name)) {
    log_fallback(context_, "rms_norm");
  }
  void load(const Tensor& weight, float eps) override {
    RmsNormKernel::load(weight, eps);
    inner_->load(HostMirror::to_host(weight, *context_.device), eps);
    loaded_ = true;
  }
  void apply(const Tensor& x, Tensor& out) override {
    if (!loaded_) load(weight_, eps_);
    apply_unary(*context_.device, *inner_, x, out);
  }

 private:
  FallbackContext context_;
  std::unique_ptr<RmsNormKernel> inner_;
  bool loaded_ = false;
};

class FallbackLayerNorm : public LayerNormKernel {
 public:
  explicit FallbackLayerNorm(FallbackContext context)
      : context_(std::move(context)), inner_(context_.host->kernels().layer_norm.create(context_.name)) {
    log_fallback(context_, "layer_norm");
  }
  void load(const Tensor& weight, const Tensor& bias, float eps) override {
    LayerNormKernel::load(weight, bias, eps);
    inner_->load(HostMirror::to_host(weight, *context_.device), HostMirror::to_host(bias, *context_.device),
                 eps);
    loaded_ = true;
  }
  void apply(const Tensor& x, Tensor& out) override {
    if (!loaded_) load(weight_, bias_, eps_);
    apply_unary(*context_.device, *inner_, x, out);
  }

 private:
  FallbackContext context_;
  std::unique_ptr<LayerNormKernel> inner_;
  bool loaded_ = false;
};

class FallbackRope : public RopeKernel {
 public:
  explicit FallbackRope(FallbackContext context)
      : context_(std::move(context)), inner_(context_.host->kernels().rope.create(context_.name)) {
    log_fallback(context_, "rope");
  }
  void apply(const Tensor& x, const RopeTables& tables, Tensor& out) override {
    HostMirror mirror(*context_.device);
    mirror.add(x, false);
    mirror.add(tables.cos, false);
    mirror.add(tables.sin, false);
    mirror.add(out, true);
    mirror.materialize();
    Tensor host_out = mirror.host(3);
    inner_->apply(mirror.host(0), RopeTables{mirror.host(1), mirror.host(2)}, host_out);
    mirror.write_back();
  }

 private:
  FallbackContext context_;
  std::unique_ptr<RopeKernel> inner_;
};

class FallbackConv : public ConvKernel {
 public:
  explicit FallbackConv(FallbackContext context)
      : context_(std::move(context)), inner_(context_.host->kernels().conv.create(context_.name)) {
    log_fallback(context_, "conv");
  }
  void load(const Tensor& weight, const Tensor& bias, const ConvOptions& options) override {
    check_and_store(weight, bias, options);  // for output_shape(); the host kernel keeps the copies
    inner_->load(HostMirror::to_host(weight, *context_.device), HostMirror::to_host(bias, *context_.device),
                 options);
    weight_ = Tensor();
    bias_ = Tensor();
  }
  void apply(const Tensor& x, Tensor& out) override { apply_unary(*context_.device, *inner_, x, out); }

 private:
  FallbackContext context_;
  std::unique_ptr<ConvKernel> inner_;
};

class FallbackElementwise : public ElementwiseKernel {
 public:
  explicit FallbackElementwise(FallbackContext context)
      : context_(std::move(context)), inner_(context_.host->kernels().elementwise.create(context_.name)) {
    log_fallback(context_, "elementwise");
  }
  void load(const std::vector<float>& params) override {
    ElementwiseKernel::load(params);
    inner_->load(params);
  }
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    HostMirror mirror(*context_.device);
    for (const Tensor& input : inputs) mirror.add(input, false);
    mirror.add(out, true);
    mirror.materialize();
    std::vector<Tensor> host_inputs;
    for (size_t index = 0; index < inputs.size(); ++index) host_inputs.push_back(mirror.host(index));
    Tensor host_out = mirror.host(inputs.size());
    inner_->apply(host_inputs, host_out);
    mirror.write_back();
  }

 private:
  FallbackContext context_;
  std::unique_ptr<ElementwiseKernel> inner_;
};

template <class Kernel>
using FallbackFor = KernelClass<Kernel, FallbackAttention, FallbackMatmul, FallbackRmsNorm, FallbackLayerNorm,
                                FallbackRope, FallbackConv, FallbackElementwise>;

}  // namespace

template <class Kernel>
std::unique_ptr<Kernel> make_host_fallback(Device& device, Device& host, const std::string& name,
                                           const std::string& reason) {
  return std::make_unique<FallbackFor<Kernel>>(FallbackContext{&device, &host, name, reason});
}
template std::unique_ptr<AttentionKernel> make_host_fallback(Device&, Device&, const std::string&,
                                                             const std::string&);
template std::unique_ptr<MatmulKernel> make_host_fallback(Device&, Device&, const std::string&,
                                                          const std::string&);
template std::unique_ptr<RmsNormKernel> make_host_fallback(Device&, Device&, const std::string&,
                                                           const std::string&);
template std::unique_ptr<LayerNormKernel> make_host_fallback(Device&, Device&, const std::string&,
                                                             const std::string&);
template std::unique_ptr<RopeKernel> make_host_fallback(Device&, Device&, const std::string&,
                                                        const std::string&);
template std::unique_ptr<ConvKernel> make_host_fallback(Device&, Device&, const std::string&,
                                                        const std::string&);
template std::unique_ptr<ElementwiseKernel> make_host_fallback(Device&, Device&, const std::string&,
                                                               const std::string&);

void add_host_fallbacks(Device& device, Device& host) {
  for (KernelCategory category : kKernelCategories) {
    visit_registry(device.kernels(), category, [&](auto& target) {
      using Kernel = typename std::remove_reference_t<decltype(target)>::KernelType;
      KernelRegistry<Kernel>& source = registry_of<Kernel>(host.kernels());
      for (const std::string& name : source.names()) {
        if (target.contains(name)) continue;
        KernelTraits traits = source.traits(name);
        traits.host_fallback = true;
        const FallbackContext context{&device, &host, name, ""};
        target.add(
            name,
            [context]() -> std::unique_ptr<Kernel> { return std::make_unique<FallbackFor<Kernel>>(context); },
            concat("host fallback: the ", host.name(), " kernel through copies"), traits);
      }
      for (QuantFormat format : {QuantFormat::none, QuantFormat::int8, QuantFormat::fp8_e4m3}) {
        const std::string host_default = source.default_name(format);
        if (!host_default.empty() && target.default_name(format).empty()) target.set_default(host_default);
      }
    });
  }
}

}  // namespace x2v
