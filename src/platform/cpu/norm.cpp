// cpu rms_norm and layer_norm: one row per task, f32 math, vectorized by the compiler for this CPU
// (X2V_CPU_MULTIVERSION).
#include <omp.h>

#include <cmath>
#include <vector>

#include "platform/cpu/cpu_device.h"
#include "platform/cpu/cpu_features.h"
#include "platform/cpu/row_access.h"

namespace x2v {
namespace {

// Parameters converted to f32 once at load.
std::vector<float> parameter_floats(const Tensor& parameter) {
  return parameter.defined() ? parameter.to_floats() : std::vector<float>();
}

// One row to normalize: where it is read from and written to.
struct NormRow {
  const char* source;
  DType source_dtype;
  char* target;
  DType target_dtype;
  int64_t width;
};

struct NormParameters {
  const float* weight;  // null: none
  const float* bias;    // null: none (layer_norm only)
  float eps;
  const float* shift = nullptr;  // with scale: the adaLN modulation after the norm (layer_norm only)
  const float* scale = nullptr;
};

[[gnu::always_inline]] inline void rms_norm_row_body(const NormRow& io, const NormParameters& p, float* row) {
  const int64_t width = io.width;
  cpu::load_row(io.source, io.source_dtype, width, row);
  float squares = 0;
#pragma omp simd reduction(+ : squares)
  for (int64_t c = 0; c < width; ++c) squares += row[c] * row[c];
  const float inverse = 1.0f / std::sqrt(squares / static_cast<float>(width) + p.eps);
  if (p.weight) {
#pragma omp simd
    for (int64_t c = 0; c < width; ++c) row[c] = row[c] * inverse * p.weight[c];
  } else {
#pragma omp simd
    for (int64_t c = 0; c < width; ++c) row[c] *= inverse;
  }
  cpu::store_row(row, width, io.target, io.target_dtype);
}
X2V_CPU_MULTIVERSION(rms_norm_row, rms_norm_row_body)

[[gnu::always_inline]] inline void layer_norm_row_body(const NormRow& io, const NormParameters& p,
                                                       float* row) {
  const int64_t width = io.width;
  cpu::load_row(io.source, io.source_dtype, width, row);
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < width; ++c) sum += row[c];
  const float mean = sum / static_cast<float>(width);
  float squares = 0;
#pragma omp simd reduction(+ : squares)
  for (int64_t c = 0; c < width; ++c) squares += (row[c] - mean) * (row[c] - mean);
  const float inverse = 1.0f / std::sqrt(squares / static_cast<float>(width) + p.eps);
  const float *weight = p.weight, *bias = p.bias;
#pragma omp simd
  for (int64_t c = 0; c < width; ++c) {
    float value = (row[c] - mean) * inverse;
    if (weight) value *= weight[c];
    if (bias) value += bias[c];
    row[c] = value;
  }
  if (p.scale) {  // the same f32 operations as the separate "modulate" op, so the results are identical
    const float *shift = p.shift, *scale = p.scale;
#pragma omp simd
    for (int64_t c = 0; c < width; ++c) row[c] = row[c] * (1.0f + scale[c]) + shift[c];
  }
  cpu::store_row(row, width, io.target, io.target_dtype);
}
X2V_CPU_MULTIVERSION(layer_norm_row, layer_norm_row_body)

template <class RowFunction>
void for_each_row(const Tensor& x, Tensor& out, RowFunction&& row_function) {
  const int64_t width = x.size(-1);
  const int64_t rows = x.numel() / width;
  // Rows may be strided (a view); the last dim is contiguous (checked).
  const Shape row_shape(x.shape().begin(), x.shape().end() - 1);
  const bool simple = x.is_contiguous() && out.is_contiguous();
  std::vector<int64_t> x_offsets, out_offsets;
  if (!simple) {
    for_each_offset(row_shape, Shape(x.strides().begin(), x.strides().end() - 1),
                    [&](int64_t offset) { x_offsets.push_back(offset); });
    for_each_offset(row_shape, Shape(out.strides().begin(), out.strides().end() - 1),
                    [&](int64_t offset) { out_offsets.push_back(offset); });
  }
  const char* x_base = static_cast<const char*>(x.raw_data());
  char* out_base = static_cast<char*>(out.raw_data());
  const int64_t x_size = static_cast<int64_t>(x.element_size()),
                out_size = static_cast<int64_t>(out.element_size());
#pragma omp parallel
  {
    std::vector<float> buffer(width);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t x_offset = simple ? row * width : x_offsets[row];
      const int64_t out_offset = simple ? row * width : out_offsets[row];
      const NormRow row_io{x_base + x_offset * x_size, x.dtype(), out_base + out_offset * out_size,
                           out.dtype(), width};
      row_function(row_io, buffer.data());
    }
  }
}

class CpuRmsNorm : public RmsNormKernel {
 public:
  void load(const Tensor& weight, float eps) override {
    RmsNormKernel::load(weight, eps);
    weight_floats_ = parameter_floats(weight);
  }
  void apply(const Tensor& x, Tensor& out) override {
    check_norm_arguments("rms_norm", x, out, weight_, Tensor());
    cpu::require_host_memory("cpu_rms_norm", {&x, &out});
    const float* weight = weight_floats_.empty() ? nullptr : weight_floats_.data();
    const NormParameters parameters{weight, nullptr, eps_};
    for_each_row(x, out, [&](const NormRow& row, float* buffer) { rms_norm_row(row, parameters, buffer); });
  }

 private:
  std::vector<float> weight_floats_;
};

class CpuLayerNorm : public LayerNormKernel {
 public:
  void load(const Tensor& weight, const Tensor& bias, float eps) override {
    LayerNormKernel::load(weight, bias, eps);
    weight_floats_ = parameter_floats(weight);
    bias_floats_ = parameter_floats(bias);
  }
  void apply(const Tensor& x, Tensor& out) override {
    check_norm_arguments("layer_norm", x, out, weight_, bias_);
    cpu::require_host_memory("cpu_layer_norm", {&x, &out});
    const float* weight = weight_floats_.empty() ? nullptr : weight_floats_.data();
    const float* bias = bias_floats_.empty() ? nullptr : bias_floats_.data();
    const NormParameters parameters{weight, bias, eps_};
    for_each_row(x, out, [&](const NormRow& row, float* buffer) { layer_norm_row(row, parameters, buffer); });
  }
  void apply_modulated(const Tensor& x, const Tensor& shift, const Tensor& scale, Tensor& out) override {
    check_norm_arguments("layer_norm", x, out, weight_, bias_);
    cpu::require_host_memory("cpu_layer_norm", {&x, &shift, &scale, &out});
    const int64_t width = x.size(-1);
    if (shift.numel() != width || scale.numel() != width)
      throw Error("layer_norm", concat("modulation shift ", shift.describe(), " and scale ", scale.describe(),
                                       " must have ", width, " elements, one per channel of ", x.describe()));
    const std::vector<float> shift_floats = shift.to_floats(), scale_floats = scale.to_floats();
    NormParameters parameters{weight_floats_.empty() ? nullptr : weight_floats_.data(),
                              bias_floats_.empty() ? nullptr : bias_floats_.data(), eps_};
    parameters.shift = shift_floats.data();
    parameters.scale = scale_floats.data();
    for_each_row(x, out, [&](const NormRow& row, float* buffer) { layer_norm_row(row, parameters, buffer); });
  }

 private:
  std::vector<float> weight_floats_, bias_floats_;
};

}  // namespace

void register_cpu_norm(KernelRegistries& kernels) {
  kernels.rms_norm.add(
      "cpu_rms_norm", [] { return std::make_unique<CpuRmsNorm>(); }, "row-parallel rms_norm, f32 math");
  kernels.layer_norm.add(
      "cpu_layer_norm", [] { return std::make_unique<CpuLayerNorm>(); }, "row-parallel layer_norm, f32 math");
}

}  // namespace x2v
