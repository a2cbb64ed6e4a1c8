// The vulkan matmuls: float weights (mm.comp, tiled), fp8 e4m3 weight-only (mm_fp8.comp) and W8A8 int8
// (quantize_rows.comp + mm_int8.comp). Each splits a call whose tensors pass the storage buffer range into
// calls that fit, and runs the cpu's kernel through host copies for what has no shader.
#include "platform/vulkan/vulkan_kernel_support.h"

namespace x2v::vulkan {
namespace {

class VulkanMatmul : public MatmulKernel {
 public:
  explicit VulkanMatmul(Backend& backend)
      : backend_(backend), fallback_(backend, host_device().kernels().mm.default_name()) {}
  void load(const Tensor& weight, const Tensor& bias) override {
    check_weights(weight, bias);
    weight_ = weight;
    bias_ = bias;
    Device& device = backend_.device();
    native_weights_ = native_float(weight, device) && (!bias.defined() || native_float(bias, device));
    fallback_.reset();
  }
  void apply(const Tensor& x, Tensor& y) override {
    if (!weight_.defined()) throw Error("mm", "apply before load: the kernel has no weight");
    check_call(x, y);
    Device& device = backend_.device();
    const uint64_t rows = static_cast<uint64_t>(x.numel() / in_features_);
    const uint64_t blocks = mm_blocks(rows, out_features_);
    if (!native_weights_ || !native_float(x, device) || !native_float(y, device) ||
        !within_block_budget(backend_, blocks, mm_iterations_per_block(in_features_),
                             rows * out_features_ * in_features_)) {
      if (!fallback_.created()) fallback_.get().load(weight_, bias_);
      return fallback_.get().apply(x, y);
    }
    if (!run_native(x, y, rows)) {
      if (!fallback_.created()) fallback_.get().load(weight_, bias_);
      fallback_.get().apply(x, y);
    }
  }

 private:
  // One call per chunk of y that fits the storage buffer range (usually one).
  bool run_native(const Tensor& x, Tensor& y, uint64_t rows) {
    Dispatcher& dispatcher = backend_.dispatcher();
    const uint64_t in = in_features_, out = out_features_;
    const std::vector<MmChunk> chunks =
        mm_chunks(rows, out, in * x.element_size(), in * weight_.element_size(), y.element_size(),
                  dispatcher.binding_limit());
    if (rows == 0) return true;
    if (chunks.empty()) return false;
    const Tensor& bias = bias_.defined() ? bias_ : weight_;  // a valid binding the shader does not read
    // Cooperative matrices multiply in f16: for 2-byte weights, whose tolerance covers rounding x to f16.
    const bool cooperative = backend_.context().cooperative_matrix() && weight_.element_size() == 2;
    for (const MmChunk& chunk : chunks) {
      const struct {
        uint32_t dtypes, rows, in_features, out_features, has_bias, y_row_stride;
      } parameters{pack_dtypes({&x, &weight_, &bias, &y}),
                   u32(chunk.rows),
                   u32(in),
                   u32(chunk.columns),
                   bias_.defined() ? 1u : 0u,
                   u32(out)};
      if (!dispatcher.run(
              cooperative ? "mm_coopmat" : "mm",
              {slice_of(x, chunk.first_row * in, chunk.rows * in),
               slice_of(weight_, chunk.first_column * in, chunk.columns * in),
               bias_.defined() ? slice_of(bias, chunk.first_column, chunk.columns) : slice_of(bias, 0, 1),
               y_slice_of(y, chunk, out)},
              &parameters, sizeof(parameters), mm_blocks(chunk.rows, chunk.columns) * kMmGroupSize))
        return false;
    }
    return true;
  }

  Backend& backend_;
  Tensor weight_, bias_;
  bool native_weights_ = false;
  Fallback<MatmulKernel> fallback_;
};

// The quantized matmuls' common part: int8 or fp8 weights with per-output-channel scales, loaded only through
// load_quantized, the host kernel of the format for calls the shaders cannot run.
class VulkanQuantizedMatmul : public MatmulKernel {
 public:
  VulkanQuantizedMatmul(Backend& backend, QuantFormat format, std::string name)
      : backend_(backend),
        format_(format),
        name_(std::move(name)),
        fallback_(backend, host_device().kernels().mm.default_name(format)) {}
  QuantFormat quantized_format() const override { return format_; }
  void load(const Tensor&, const Tensor&) override {
    throw Error("mm",
                concat(name_, " takes ", quant_format_name(format_),
                       " weights with scales; load it with a quantized checkpoint or weight_auto_quant"));
  }
  void load_quantized(const QuantizedWeight& weight, const Tensor& bias) override {
    check_quantized_weights(weight, bias, format_);
    weight_ = QuantizedWeight{weight.weight, weight.scale.reshape({weight.scale.numel()})};
    bias_ = bias;
    fallback_.reset();
  }
  void apply(const Tensor& x, Tensor& y) override {
    if (!weight_.weight.defined()) throw Error("mm", "apply before load_quantized");
    check_call(x, y);
    if (!run_native(x, y)) {
      if (!fallback_.created()) fallback_.get().load_quantized(weight_, bias_);
      fallback_.get().apply(x, y);
    }
  }

 protected:
  // False, having written nothing that matters, when the call has no shader.
  virtual bool run_native(const Tensor& x, Tensor& y) = 0;

  Backend& backend_;
  QuantFormat format_;
  std::string name_;
  QuantizedWeight weight_;
  Tensor bias_;
  Fallback<MatmulKernel> fallback_;
};

// float8 e4m3 weights with per-output-channel scales, weight-only (LightX2V's fp8 schemes on a device without
// fp8 arithmetic): mm_fp8.comp decodes each byte as it stages the weight tile.
class VulkanFp8Matmul : public VulkanQuantizedMatmul {
 public:
  explicit VulkanFp8Matmul(Backend& backend)
      : VulkanQuantizedMatmul(backend, QuantFormat::fp8_e4m3, "vulkan_fp8") {}

 private:
  bool run_native(const Tensor& x, Tensor& y) override {
    Device& device = backend_.device();
    const bool on_device = weight_.weight.device() == &device && weight_.weight.is_contiguous() &&
                           native_f32(weight_.scale, device) &&
                           (!bias_.defined() || native_float(bias_, device));
    const uint64_t rows = x.numel() / in_features_, in = in_features_, out = out_features_;
    if (!on_device || !native_float(x, device) || !native_float(y, device) ||
        !within_block_budget(backend_, mm_blocks(rows, out), mm_iterations_per_block(in), rows * out * in))
      return false;
    const std::vector<MmChunk> chunks = mm_chunks(rows, out, in * x.element_size(), in, y.element_size(),
                                                  backend_.dispatcher().binding_limit());
    if (rows == 0) return true;
    if (chunks.empty()) return false;
    const Tensor& bias = bias_.defined() ? bias_ : weight_.scale;  // a valid binding the shader does not read
    for (const MmChunk& chunk : chunks) {
      const struct {
        uint32_t dtypes, rows, in_features, out_features, has_bias, y_row_stride;
      } parameters{pack_dtypes({&x, &weight_.scale, &weight_.scale, &bias, &y}),
                   u32(chunk.rows),
                   u32(in),
                   u32(chunk.columns),
                   bias_.defined() ? 1u : 0u,
                   u32(out)};
      if (!backend_.dispatcher().run(
              "mm_fp8",
              {slice_of(x, chunk.first_row * in, chunk.rows * in),
               slice_of(weight_.weight, chunk.first_column * in, chunk.columns * in),
               slice_of(weight_.scale, chunk.first_column, chunk.columns),
               bias_.defined() ? slice_of(bias, chunk.first_column, chunk.columns) : slice_of(bias, 0, 1),
               y_slice_of(y, chunk, out)},
              &parameters, sizeof(parameters), mm_blocks(chunk.rows, chunk.columns) * kMmGroupSize))
        return false;
    }
    return true;
  }
};

// W8A8 (LightX2V's int8 schemes): int8 weights with per-output-channel scales, activations quantized per
// token on the device (quantize_rows.comp) and multiplied exactly in int32 (mm_int8.comp, with integer dot
// products where the device has them), the cpu's epilogue after.
class VulkanInt8Matmul : public VulkanQuantizedMatmul {
 public:
  explicit VulkanInt8Matmul(Backend& backend)
      : VulkanQuantizedMatmul(backend, QuantFormat::int8, "vulkan_int8") {}

 private:
  bool run_native(const Tensor& x, Tensor& y) override {
    Device& device = backend_.device();
    // Words of four int8 values: rows of whole words, starting on a word.
    const bool on_device =
        in_features_ % 4 == 0 && weight_.weight.device() == &device && weight_.weight.is_contiguous() &&
        reinterpret_cast<uintptr_t>(weight_.weight.raw_data()) % 4 == 0 &&
        native_f32(weight_.scale, device) && (!bias_.defined() || native_float(bias_, device));
    const uint64_t rows = static_cast<uint64_t>(x.numel() / in_features_), words = in_features_ / 4;
    const uint64_t blocks = mm_blocks(rows, out_features_);
    if (!on_device || !native_float(x, device) || !native_float(y, device) ||
        !within_block_budget(backend_, rows, 2 * static_cast<uint64_t>(in_features_) / 64 + 8,
                             rows * in_features_) ||
        !within_block_budget(backend_, blocks, mm_iterations_per_block(words), rows * out_features_ * words))
      return false;
    if (rows == 0) return true;
    Dispatcher& dispatcher = backend_.dispatcher();
    const uint64_t in = in_features_, out = out_features_;
    const std::vector<MmChunk> chunks = mm_chunks(rows, out, in * std::max<uint64_t>(x.element_size(), 1), in,
                                                  y.element_size(), dispatcher.binding_limit());
    if (chunks.empty()) return false;
    Tensor quantized = empty({static_cast<int64_t>(rows), static_cast<int64_t>(words)}, DType::i32, device);
    Tensor scales = empty({static_cast<int64_t>(rows)}, DType::f32, device);
    const Tensor& bias = bias_.defined() ? bias_ : weight_.scale;  // a valid binding the shader does not read
    for (const MmChunk& chunk : chunks) {
      if (chunk.first_column == 0) {  // the chunk's rows of x, quantized once
        const struct { uint32_t dtypes, rows, width; } quantize{pack_dtypes({&x}), u32(chunk.rows), u32(in)};
        if (!dispatcher.run("quantize_rows",
                            {slice_of(x, chunk.first_row * in, chunk.rows * in),
                             slice_of(quantized, chunk.first_row * words, chunk.rows * words),
                             slice_of(scales, chunk.first_row, chunk.rows)},
                            &quantize, sizeof(quantize), chunk.rows * kMmGroupSize))
          return false;
      }
      // The dtype codes of bias and y sit in the slots of their bindings (4 and 5).
      const struct {
        uint32_t dtypes, rows, words, out_features, has_bias, y_row_stride;
      } parameters{pack_dtypes({&weight_.scale, &weight_.scale, &weight_.scale, &weight_.scale, &bias, &y}),
                   u32(chunk.rows),
                   u32(words),
                   u32(chunk.columns),
                   bias_.defined() ? 1u : 0u,
                   u32(out)};
      if (!dispatcher.run(
              backend_.context().integer_dot() ? "mm_int8_dot" : "mm_int8",
              {slice_of(quantized, chunk.first_row * words, chunk.rows * words),
               slice_of(scales, chunk.first_row, chunk.rows),
               slice_of(weight_.weight, chunk.first_column * in, chunk.columns * in, 4),
               slice_of(weight_.scale, chunk.first_column, chunk.columns),
               bias_.defined() ? slice_of(bias, chunk.first_column, chunk.columns) : slice_of(bias, 0, 1),
               y_slice_of(y, chunk, out)},
              &parameters, sizeof(parameters), mm_blocks(chunk.rows, chunk.columns) * kMmGroupSize))
        return false;
    }
    return true;
  }
};

}  // namespace

void register_vulkan_matmuls(Backend& backend, KernelRegistries& kernels) {
  const char* f32_note =
      "; other layouts and calls past the device's limits run the cpu's kernel through host copies";
  kernels.mm.add(
      "vulkan_mm", [&backend] { return std::make_unique<VulkanMatmul>(backend); },
      concat(
          "mm.comp: f32/bf16/f16 weights and activations, tiled 32 x 32 in shared memory, f32 accumulation",
          f32_note));
  kernels.mm.set_default("vulkan_mm");
  kernels.mm.add(
      "vulkan_fp8", [&backend] { return std::make_unique<VulkanFp8Matmul>(backend); },
      concat("mm_fp8.comp: float8 e4m3 weights, per-channel scales, weight-only, tiled 32 x 32, f32 math",
             f32_note),
      KernelTraits::quantized(QuantFormat::fp8_e4m3));
  kernels.mm.set_default("vulkan_fp8");
  kernels.mm.add(
      "vulkan_int8", [&backend] { return std::make_unique<VulkanInt8Matmul>(backend); },
      concat(
          "quantize_rows.comp + mm_int8.comp: W8A8, per-token int8 activations, exact int32 sums (integer ",
          "dot products where the device has them), tiled 32 x 32", f32_note),
      KernelTraits::quantized(QuantFormat::int8));
  kernels.mm.set_default("vulkan_int8");
}

}  // namespace x2v::vulkan
