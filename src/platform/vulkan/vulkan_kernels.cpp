// The vulkan kernels that have shaders: mm and the elementwise fill and scale, for contiguous f32 tensors.
// Every other case (another dtype, a strided view) and every other kernel runs the cpu's kernel through
// host copies, so the device runs whole models while its shader set grows.
#include <cstring>

#include "platform/host_fallback.h"
#include "platform/platform.h"
#include "platform/vulkan/vulkan_backend.h"

namespace x2v::vulkan {
namespace {

bool native_f32(const Tensor& tensor, Device& device) {
  return tensor.defined() && tensor.dtype() == DType::f32 && tensor.is_contiguous() &&
         tensor.device() == &device;
}

Binding binding_of(const Tensor& tensor) {
  return Binding{tensor.raw_data(), tensor.nbytes()};
}

class VulkanMatmul : public MatmulKernel {
 public:
  explicit VulkanMatmul(Backend& backend) : backend_(backend) {}
  void load(const Tensor& weight, const Tensor& bias) override {
    check_weights(weight, bias);
    weight_ = weight;
    bias_ = bias;
    Device& device = backend_.device();
    native_weights_ = native_f32(weight, device) && (!bias.defined() || native_f32(bias, device));
    fallback_.reset();
  }
  void apply(const Tensor& x, Tensor& y) override {
    if (!weight_.defined()) throw Error("mm", "apply before load: the kernel has no weight");
    check_call(x, y);
    Device& device = backend_.device();
    if (!native_weights_ || !native_f32(x, device) || !native_f32(y, device)) return fallback().apply(x, y);
    struct {
      uint32_t rows, in_features, out_features, has_bias;
    } parameters{static_cast<uint32_t>(x.numel() / in_features_), static_cast<uint32_t>(in_features_),
                 static_cast<uint32_t>(out_features_), bias_.defined() ? 1u : 0u};
    const Tensor& bias = bias_.defined() ? bias_ : weight_;  // a valid binding the shader does not read
    backend_.dispatcher().run("mm_f32", {binding_of(x), binding_of(weight_), binding_of(bias), binding_of(y)},
                              &parameters, sizeof(parameters),
                              static_cast<uint64_t>(parameters.rows) * parameters.out_features);
  }

 private:
  // The cpu's default mm on host copies, loaded with the same weights on first use.
  MatmulKernel& fallback() {
    if (!fallback_) {
      fallback_ = make_host_fallback<MatmulKernel>(backend_.device(), host_device(),
                                                   host_device().kernels().mm.default_name());
      fallback_->load(weight_, bias_);
    }
    return *fallback_;
  }

  Backend& backend_;
  Tensor weight_, bias_;
  bool native_weights_ = false;
  std::unique_ptr<MatmulKernel> fallback_;
};

// One elementwise op with a shader for contiguous f32 tensors; anything else runs the cpu's op.
class VulkanElementwise : public ElementwiseKernel {
 public:
  VulkanElementwise(Backend& backend, std::string op) : backend_(backend), op_(std::move(op)) {}
  void load(const std::vector<float>& params) override {
    ElementwiseKernel::load(params);
    if (fallback_) fallback_->load(params);
  }
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    Device& device = backend_.device();
    bool native = native_f32(out, device);
    for (const Tensor& input : inputs)
      native = native && native_f32(input, device) && input.numel() == out.numel();
    if (!native) {
      for (const Tensor& input : inputs)
        if (!input.defined()) throw Error("elementwise", "an input is missing");
      return fallback().apply(inputs, out);
    }
    const uint32_t count = static_cast<uint32_t>(out.numel());
    if (op_ == "fill") {
      if (params_.size() != 1 || !inputs.empty()) throw Error("fill", "expects no inputs and [value]");
      struct {
        uint32_t count;
        float value;
      } parameters{count, params_[0]};
      backend_.dispatcher().run("fill", {binding_of(out)}, &parameters, sizeof(parameters), count);
      return;
    }
    if (params_.size() != 2 || inputs.size() != 1) throw Error("scale", "expects x and [multiplier, offset]");
    struct {
      uint32_t count;
      float multiplier, offset;
    } parameters{count, params_[0], params_[1]};
    backend_.dispatcher().run("scale", {binding_of(inputs[0]), binding_of(out)}, &parameters,
                              sizeof(parameters), count);
  }

 private:
  ElementwiseKernel& fallback() {
    if (!fallback_) {
      fallback_ = make_host_fallback<ElementwiseKernel>(backend_.device(), host_device(), op_);
      fallback_->load(params_);
    }
    return *fallback_;
  }

  Backend& backend_;
  std::string op_;
  std::unique_ptr<ElementwiseKernel> fallback_;
};

}  // namespace

void register_vulkan_kernels(Backend& backend, KernelRegistries& kernels) {
  kernels.mm.add(
      "vulkan_mm", [&backend] { return std::make_unique<VulkanMatmul>(backend); },
      "mm_f32.comp for f32 weights and activations (one invocation per output, f32 accumulation); other "
      "dtypes "
      "run the cpu's mm through host copies");
  kernels.mm.set_default("vulkan_mm");
  for (const char* op : {"fill", "scale"})
    kernels.elementwise.add(
        op, [&backend, op] { return std::make_unique<VulkanElementwise>(backend, op); },
        concat(op, ".comp for contiguous f32; other layouts run the cpu's op through host copies"));
}

}  // namespace x2v::vulkan
