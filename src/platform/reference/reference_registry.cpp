// Registers the reference math as the "torch" kernel of each category on cpu.
#include "platform/cpu/cpu_device.h"
#include "platform/reference/reference.h"
#include "platform/reference/reference_mm_quant.h"

namespace x2v {
namespace {

class ReferenceAttention : public AttentionKernel {
 public:
  bool supports_bias() const override { return true; }
  void run(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
           const AttentionCall& call) override {
    reference::attention(q, k, v, out, options_.scale, call);
  }
};

class ReferenceMatmul : public MatmulKernel {
 public:
  void load(const Tensor& weight, const Tensor& bias) override {
    check_weights(weight, bias);
    weight_ = weight;
    bias_ = bias;
  }
  void apply(const Tensor& x, Tensor& y) override {
    check_call(x, y);
    reference::mm(x, weight_, bias_, y);
  }

 private:
  Tensor weight_, bias_;
};

class ReferenceRmsNorm : public RmsNormKernel {
 public:
  void apply(const Tensor& x, Tensor& out) override { reference::rms_norm(x, weight_, eps_, out); }
};

class ReferenceLayerNorm : public LayerNormKernel {
 public:
  void apply(const Tensor& x, Tensor& out) override { reference::layer_norm(x, weight_, bias_, eps_, out); }
};

class ReferenceRope : public RopeKernel {
 public:
  void apply(const Tensor& x, const RopeTables& tables, Tensor& out) override {
    reference::rope(x, tables, out);
  }
};

class ReferenceConv : public ConvKernel {
 public:
  void load(const Tensor& weight, const Tensor& bias, const ConvOptions& options) override {
    check_and_store(weight, bias, options);
  }
  void apply(const Tensor& x, Tensor& out) override {
    if (out.shape() != output_shape(x.shape()))
      throw Error("conv",
                  concat("out ", out.describe(), " should be ", shape_to_string(output_shape(x.shape()))));
    reference::conv(x, weight_, bias_, options_, out);
  }
};

}  // namespace

void register_reference_kernels(KernelRegistries& kernels) {
  const char* description = "portable reference (plain loops, fp64 accumulation)";
  kernels.attention.add(
      "torch", [] { return std::make_unique<ReferenceAttention>(); }, description, KernelTraits::with_bias());
  kernels.mm.add(
      "torch", [] { return std::make_unique<ReferenceMatmul>(); }, description);
  register_reference_quant_kernels(kernels);
  kernels.rms_norm.add(
      "torch", [] { return std::make_unique<ReferenceRmsNorm>(); }, description);
  kernels.layer_norm.add(
      "torch", [] { return std::make_unique<ReferenceLayerNorm>(); }, description);
  kernels.rope.add(
      "torch", [] { return std::make_unique<ReferenceRope>(); }, description);
  kernels.conv.add(
      "torch", [] { return std::make_unique<ReferenceConv>(); }, description);
}

}  // namespace x2v
