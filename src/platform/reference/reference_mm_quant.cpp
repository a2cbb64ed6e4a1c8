#include "platform/reference/reference_mm_quant.h"

#include "platform/reference/host_values.h"

namespace x2v {
namespace reference {
namespace {

// The dequantized weight as fp64 values of f32 products q * scale (what the f32 fake-quant computes).
std::vector<double> dequantized(const QuantizedWeight& weight) {
  const std::vector<float> q = weight.weight.to_floats(), scale = weight.scale.to_floats();
  const int64_t in = weight.weight.size(1);
  std::vector<double> result(q.size());
  for (size_t i = 0; i < q.size(); ++i) result[i] = static_cast<float>(q[i] * scale[i / in]);
  return result;
}

}  // namespace

void mm_int8(const Tensor& x, const QuantizedWeight& weight, const Tensor& bias, Tensor& y) {
  const int64_t in = weight.weight.size(1);
  const std::vector<float> values = x.to_floats();
  const int64_t rows = static_cast<int64_t>(values.size()) / in;
  std::vector<double> xv(values.size());
  std::vector<int8_t> q(in);
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = quantize_row_int8(values.data() + r * in, in, q.data());
    for (int64_t i = 0; i < in; ++i) xv[r * in + i] = static_cast<float>(q[i] * scale);
  }
  matmul_values(xv, dequantized(weight), bias, in, weight.weight.size(0), y);
}

void mm_weight_only(const Tensor& x, const QuantizedWeight& weight, const Tensor& bias, Tensor& y) {
  matmul_values(read_values(x), dequantized(weight), bias, weight.weight.size(1), weight.weight.size(0), y);
}

}  // namespace reference

namespace {

class ReferenceQuantizedMatmul : public MatmulKernel {
 public:
  explicit ReferenceQuantizedMatmul(QuantFormat format) : format_(format) {}
  QuantFormat quantized_format() const override { return format_; }
  void load(const Tensor& weight, const Tensor&) override {
    throw Error("mm", concat(quant_format_name(format_), "-torch takes ", quant_format_name(format_),
                             " weights with per-channel scales (load_quantized), not ", weight.describe()));
  }
  void load_quantized(const QuantizedWeight& weight, const Tensor& bias) override {
    check_quantized_weights(weight, bias, format_);
    weight_ = weight;
    bias_ = bias;
  }
  void apply(const Tensor& x, Tensor& y) override {
    if (!weight_.weight.defined()) throw Error("mm", "apply called before load_quantized");
    check_call(x, y);
    if (format_ == QuantFormat::int8)
      reference::mm_int8(x, weight_, bias_, y);
    else
      reference::mm_weight_only(x, weight_, bias_, y);
  }

 private:
  QuantFormat format_;
  QuantizedWeight weight_;
  Tensor bias_;
};

}  // namespace

void register_reference_quant_kernels(KernelRegistries& kernels) {
  kernels.mm.add(
      "int8-torch", [] { return std::make_unique<ReferenceQuantizedMatmul>(QuantFormat::int8); },
      "portable reference of W8A8 (int8 weights, per-token int8 activations), fake-quantized in fp64",
      KernelTraits::quantized(QuantFormat::int8));
  kernels.mm.add(
      "fp8-torch", [] { return std::make_unique<ReferenceQuantizedMatmul>(QuantFormat::fp8_e4m3); },
      "portable reference of fp8 e4m3 weights (weight-only), fake-quantized in fp64",
      KernelTraits::quantized(QuantFormat::fp8_e4m3));
}

}  // namespace x2v
