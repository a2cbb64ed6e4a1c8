// The cpu W8A8 kernel: int8 weights with per-output-channel scales (LightX2V's layout), activations
// quantized per token on every call, int8 x int8 products summed exactly in int32 and scaled back in
// the tile epilogue (mm_quant_int8_gemm.h says why this is not oneDNN's int8 GEMM).
#include <omp.h>

#include "core/log.h"
#include "platform/cpu/cpu_device.h"
#include "platform/cpu/mm_quant.h"
#include "platform/cpu/mm_quant_int8_gemm.h"
#include "platform/platform.h"

namespace x2v {
namespace {

constexpr const char* kName = "int8-cpu";

class CpuInt8Matmul final : public MatmulKernel {
 public:
  QuantFormat quantized_format() const override { return QuantFormat::int8; }

  void load(const Tensor& weight, const Tensor&) override {
    throw Error("mm", concat(kName, " takes int8 weights with per-channel scales (load_quantized), not ",
                             weight.describe(), "; quantize the weight first (weight_auto_quant) or pick an ",
                             "unquantized kernel"));
  }

  void load_quantized(const QuantizedWeight& quantized, const Tensor& bias) override {
    check_quantized_weights(quantized, bias, QuantFormat::int8);
    const Tensor& weight = quantized.weight;
    if (!weight.is_host_accessible() || !quantized.scale.is_host_accessible() ||
        (bias.defined() && !bias.is_host_accessible()))
      throw Error("mm", concat(kName, " needs its weights in host memory"));
    const Tensor rows = weight.stride(1) == 1 ? weight : weight.to_host(DType::i8);
    packed_ = Tensor::host({cpu_int8::packed_weight_bytes(out_features_, in_features_)}, DType::i8);
    cpu_int8::pack_weights(rows.data<int8_t>(), out_features_, in_features_, rows.stride(0),
                           packed_.data<int8_t>());
    scales_ = quantized.scale.to_floats();
    bias_ = bias.defined() ? bias.to_floats() : std::vector<float>();
  }

  void apply(const Tensor& x, Tensor& y) override {
    if (!packed_.defined()) throw Error("mm", concat(kName, ": apply called before load_quantized"));
    check_call(x, y);
    if (!x.is_host_accessible() || !y.is_host_accessible())
      throw Error("mm", concat(kName, " works on host memory; move the tensors to the cpu device first"));
    const int64_t rows = x.numel() / in_features_;
    if (rows == 0) return;
    Device& device = cpu_device();
    const Tensor activations =
        empty({cpu_int8::packed_activation_words(rows, in_features_)}, DType::i32, device);
    const Tensor activation_scales = empty({rows}, DType::f32, device);
    cpu_int8::quantize_and_pack_activations(x.raw_data(), x.dtype(), rows, in_features_,
                                            activations.data<int32_t>(), activation_scales.data<float>());
    const int64_t scratch_words =
        cpu_int8::int32_scratch_words(rows, out_features_, in_features_, omp_get_max_threads());
    const Tensor scratch = empty({std::max<int64_t>(scratch_words, 1)}, DType::i32, device);
    cpu_int8::Int8GemmArguments arguments;
    arguments.activations = activations.data<int32_t>();
    arguments.activation_scales = activation_scales.data<float>();
    arguments.weights = packed_.data<int8_t>();
    arguments.weight_scales = scales_.data();
    arguments.bias = bias_.empty() ? nullptr : bias_.data();
    arguments.m = rows;
    arguments.n = out_features_;
    arguments.k = in_features_;
    arguments.y = y.raw_data();
    arguments.y_dtype = y.dtype();
    cpu_int8::int8_gemm(arguments, scratch.data<int32_t>());
  }

 private:
  Tensor packed_;              // pack_weights layout, 1 byte a weight
  std::vector<float> scales_;  // per output channel
  std::vector<float> bias_;    // empty: no bias
};

}  // namespace

void register_cpu_int8_mm(KernelRegistries& kernels) {
  const bool supported =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  if (!supported) {
    log_info("cpu", "this CPU lacks AVX2/FMA/F16C; ", kName, " is not registered (use 'int8-torch')");
    return;
  }
  kernels.mm.add(
      kName, [] { return std::make_unique<CpuInt8Matmul>(); },
      "W8A8: int8 weights with per-channel scales, activations quantized per token; exact int8 products "
      "(AVX2 int16 pairs), scales and bias applied per tile");
  // LightX2V's W8A8 schemes: the same math on other GPUs' kernels.
  for (const char* alias : {"int8-vllm", "int8-sgl", "int8-q8f", "int8-triton", "int8-torchao"})
    kernels.mm.alias(alias, kName);
}

}  // namespace x2v
