// The cpu fp8 kernel: float8_e4m3fn weights with per-output-channel scales (LightX2V's layout), weight
// only. CPUs have no fp8 arithmetic, so the weight is dequantized (q * scale, in f32 exactly as the fake
// quantization computes it) one tile at a time into a bounded buffer and multiplied by oneDNN's f32
// matmul, the fastest matmul oneDNN 2.6 has on AVX2; tiles along K accumulate through a sum post-op.
// bf16 activations on a CPU with a native bf16 matmul take oneDNN's bf16 matmul (twice the f32 one's speed
// there) on tiles of the unscaled q, which bf16 holds exactly (e4m3 has 3 mantissa bits), and the
// per-channel scale and the bias are applied to the f32 sums: the same product up to summation order.
// The weight stays 1 byte per value in memory; no full-size converted copy is ever made.
#include <array>
#include <cmath>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "platform/cpu/cpu_device.h"
#include "platform/cpu/cpu_features.h"
#include "platform/cpu/mm_quant.h"
#include "platform/cpu/onednn_context.h"
#include "platform/platform.h"

namespace x2v {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

constexpr const char* kName = "fp8-onednn";
// Tile of dequantized weights: at most 1024 output channels x 2048 inputs (8 MiB of f32), both cut into
// equal parts. Wide tiles matter: oneDNN re-packs the activations for every tile, and measured at the
// 1536 x 1536 shape, two tiles of 768 columns ran 15% faster than three of 512.
constexpr int64_t kMaxTileColumns = 1024;
constexpr int64_t kMaxTileDepth = 2048;

// `total` cut into the fewest equal parts of at most `limit`: the part size.
int64_t equal_part(int64_t total, int64_t limit) {
  const int64_t parts = (total + limit - 1) / limit;
  return (total + parts - 1) / parts;
}
constexpr size_t kMaxCachedPrimitives = 64;

const std::array<float, 256>& e4m3_values() {
  static const std::array<float, 256> values = [] {
    std::array<float, 256> table{};
    for (int bits = 0; bits < 256; ++bits) table[bits] = f8_e4m3_to_float(static_cast<uint8_t>(bits));
    return table;
  }();
  return values;
}

// out[row, j] = out[row, j] * scale[j] (+ bias[j]) for `rows` rows `stride` apart.
[[gnu::always_inline]] inline void scale_and_bias_columns_body(float* out, int64_t stride, int64_t rows,
                                                               int64_t columns, const float* scale,
                                                               const float* bias) {
  for (int64_t row = 0; row < rows; ++row) {
    float* values = out + row * stride;
    if (bias == nullptr)
      for (int64_t j = 0; j < columns; ++j) values[j] = values[j] * scale[j];
    else
      for (int64_t j = 0; j < columns; ++j) values[j] = std::fma(values[j], scale[j], bias[j]);
  }
}
X2V_CPU_MULTIVERSION(scale_and_bias_columns, scale_and_bias_columns_body)

class OnednnFp8Matmul final : public MatmulKernel {
 public:
  QuantFormat quantized_format() const override { return QuantFormat::fp8_e4m3; }

  void load(const Tensor& weight, const Tensor&) override {
    throw Error("mm",
                concat(kName, " takes float8_e4m3fn weights with per-channel scales (load_quantized), not ",
                       weight.describe(), "; quantize the weight first (weight_auto_quant) or pick an ",
                       "unquantized kernel"));
  }

  void load_quantized(const QuantizedWeight& quantized, const Tensor& bias) override {
    check_quantized_weights(quantized, bias, QuantFormat::fp8_e4m3);
    if (!quantized.weight.is_host_accessible() || !quantized.scale.is_host_accessible() ||
        (bias.defined() && !bias.is_host_accessible()))
      throw Error("mm", concat(kName, " needs its weights in host memory"));
    std::lock_guard<std::mutex> lock(mutex_);
    weight_ = quantized.weight.is_contiguous() ? quantized.weight : quantized.weight.to_host(DType::f8_e4m3);
    scales_ = quantized.scale.to_floats();
    bias_ = bias.defined() ? bias.to_floats() : std::vector<float>();
    primitives_.clear();
    tile_depth_ = equal_part(in_features_, kMaxTileDepth);
    tile_columns_ = equal_part(out_features_, kMaxTileColumns);
  }

  void apply(const Tensor& x, Tensor& y) override {
    if (!weight_.defined()) throw Error("mm", concat(kName, ": apply called before load_quantized"));
    check_call(x, y);
    if (!x.is_host_accessible() || !y.is_host_accessible())
      throw Error("mm", concat(kName, " works on host memory; move the tensors to the cpu device first"));
    const int64_t rows = x.numel() / in_features_;
    if (rows == 0) return;
    Tensor source_scratch, destination_scratch;
    const bool bf16 = x.dtype() == DType::bf16 && onednn_matmul_is_native(DType::bf16);
    const void* source = nullptr;
    if (x.dtype() == DType::f32 || bf16) {
      source = x.raw_data();
    } else {
      source_scratch = f32_scratch(x.numel());
      convert_to_f32(x.raw_data(), x.dtype(), source_scratch.data<float>(), x.numel());
      source = source_scratch.data<float>();
    }
    float* destination = nullptr;
    if (y.dtype() == DType::f32) {
      destination = y.data<float>();
    } else {
      destination_scratch = f32_scratch(y.numel());
      destination = destination_scratch.data<float>();
    }
    const Tensor tile = f32_scratch(tile_depth_ * tile_columns_);  // bf16 tiles use half of it
    const DType tile_dtype = bf16 ? DType::bf16 : DType::f32;
    for (int64_t column = 0; column < out_features_; column += tile_columns_) {
      const int64_t columns = std::min(tile_columns_, out_features_ - column);
      for (int64_t depth = 0; depth < in_features_; depth += tile_depth_) {
        const int64_t depths = std::min(tile_depth_, in_features_ - depth);
        dequantize_tile(column, columns, depth, depths, tile_dtype, tile.raw_data());
        run_tile(rows, column, columns, depth, depths, tile_dtype, source, tile.raw_data(), destination);
      }
      if (bf16) scale_columns(rows, column, columns, destination);
    }
    if (y.dtype() != DType::f32) convert_from_f32(destination, y.raw_data(), y.dtype(), y.numel());
  }

 private:
  struct Compiled {
    dnnl::matmul primitive;
    memory::desc source_desc, weights_desc, destination_desc, scratchpad_desc;
    int64_t scratchpad_bytes = 0;
  };
  // rows, depths, columns, first depth tile, source and tile dtype
  using Key = std::tuple<int64_t, int64_t, int64_t, bool, DType>;

  // tile[j * depths + i] = q[column + j, depth + i] * scale[column + j] in f32, or q alone (exact) in bf16:
  // oneDNN's "ba" K x N layout. One thread: a 4 MiB tile takes about 0.5 ms, less than what waking the
  // OpenMP team costs on a busy machine.
  void dequantize_tile(int64_t column, int64_t columns, int64_t depth, int64_t depths, DType dtype,
                       void* tile) const {
    const std::array<float, 256>& values = e4m3_values();
    const uint8_t* q = weight_.data_u8();
    std::vector<float> wide(dtype == DType::f32 ? 0 : static_cast<size_t>(depths));
    for (int64_t j = 0; j < columns; ++j) {
      const uint8_t* row = q + (column + j) * in_features_ + depth;
      const float scale = dtype == DType::f32 ? scales_[column + j] : 1.0f;
      float* target = dtype == DType::f32 ? static_cast<float*>(tile) + j * depths : wide.data();
      for (int64_t i = 0; i < depths; ++i) target[i] = values[row[i]] * scale;
      if (dtype != DType::f32)
        convert_from_f32(wide.data(), static_cast<uint16_t*>(tile) + j * depths, dtype, depths);
    }
  }

  // The bf16 path's epilogue: y[:, column + j] = sum * scale[column + j] + bias[column + j].
  void scale_columns(int64_t rows, int64_t column, int64_t columns, float* destination) const {
    scale_and_bias_columns(destination + column, out_features_, rows, columns, scales_.data() + column,
                           bias_.empty() ? nullptr : bias_.data() + column);
  }

  void run_tile(int64_t rows, int64_t column, int64_t columns, int64_t depth, int64_t depths, DType dtype,
                const void* source, void* tile, float* destination) {
    const bool first = depth == 0;
    const Compiled compiled = compiled_for(Key{rows, depths, columns, first, dtype});
    const Tensor scratchpad =
        empty({std::max<int64_t>(compiled.scratchpad_bytes, 1)}, DType::u8, host_device());
    const dnnl::engine& engine = onednn_engine();
    std::unordered_map<int, memory> arguments{
        {DNNL_ARG_SRC,
         memory(compiled.source_desc, engine,
                const_cast<char*>(static_cast<const char*>(source)) + depth * dtype_size(dtype))},
        {DNNL_ARG_WEIGHTS, memory(compiled.weights_desc, engine, tile)},
        {DNNL_ARG_DST, memory(compiled.destination_desc, engine, destination + column)},
        {DNNL_ARG_SCRATCHPAD, memory(compiled.scratchpad_desc, engine, scratchpad.raw_data())}};
    if (first && !bias_.empty() && dtype == DType::f32)
      arguments.emplace(DNNL_ARG_BIAS, memory(bias_desc(columns), engine, bias_.data() + column));
    compiled.primitive.execute(onednn_stream(), arguments);
    onednn_stream().wait();
  }

  static memory::desc bias_desc(int64_t columns) {
    return memory::desc({1, columns}, memory::data_type::f32, tag::ab);
  }

  Compiled compiled_for(const Key& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = primitives_.find(key);
    if (found != primitives_.end()) return found->second;
    if (primitives_.size() >= kMaxCachedPrimitives) primitives_.clear();
    const auto [rows, depths, columns, first, dtype] = key;
    // Views into the full x [rows, K] and y [rows, N]: row strides K and N.
    const memory::desc source({rows, depths}, onednn_data_type(dtype), memory::dims{in_features_, 1});
    const memory::desc weights({depths, columns}, onednn_data_type(dtype), tag::ba);
    const memory::desc destination({rows, columns}, memory::data_type::f32, memory::dims{out_features_, 1});
    dnnl::primitive_attr attributes;
    attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (!first) {
      dnnl::post_ops accumulate;  // later depth tiles add onto the earlier ones
      accumulate.append_sum(1.0f);
      attributes.set_post_ops(accumulate);
    }
    const auto descriptor =
        onednn_build("mm", concat("a ", rows, "x", depths, "x", columns, " fp8 tile matmul"), [&] {
          const auto description = first && !bias_.empty() && dtype == DType::f32
                                       ? dnnl::matmul::desc(source, weights, bias_desc(columns), destination)
                                       : dnnl::matmul::desc(source, weights, destination);
          return dnnl::matmul::primitive_desc(description, attributes, onednn_engine());
        });
    Compiled compiled{
        dnnl::matmul(descriptor),     descriptor.src_desc(),
        descriptor.weights_desc(),    descriptor.dst_desc(),
        descriptor.scratchpad_desc(), static_cast<int64_t>(descriptor.scratchpad_desc().get_size())};
    return primitives_.emplace(key, std::move(compiled)).first->second;
  }

  std::mutex mutex_;
  Tensor weight_;  // f8_e4m3 [out, in], contiguous (the caller's tensor when it already is)
  std::vector<float> scales_, bias_;
  int64_t tile_depth_ = 0, tile_columns_ = 0;
  std::map<Key, Compiled> primitives_;
};

}  // namespace

void register_cpu_fp8_mm(KernelRegistries& kernels) {
  kernels.mm.add(
      kName, [] { return std::make_unique<OnednnFp8Matmul>(); },
      "fp8 e4m3 weights with per-channel scales, weight-only: dequantized tile by tile (at most 1024x2048) "
      "into oneDNN's f32 matmul (bf16 tiles and matmul for bf16 activations where the CPU has it); "
      "f32/bf16/f16 activations",
      KernelTraits::quantized(QuantFormat::fp8_e4m3));
}

}  // namespace x2v
