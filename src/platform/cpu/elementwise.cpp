// cpu elementwise ops: chunks of contiguous elements processed in parallel in f32. Broadcast operands
// (shift, scale, gate of shape [dim]) are indexed modulo their size.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "platform/cpu/cpu_device.h"
#include "platform/cpu/cpu_features.h"
#include "platform/cpu/fast_math.h"
#include "platform/cpu/row_access.h"

namespace x2v {
namespace {

constexpr int64_t kChunk = 4096;
// Below this many elements an op runs on one thread: waking the OpenMP team costs more than it saves
// (milliseconds when the other core is busy), and the T5 embedding lookup copies hundreds of single rows.
constexpr int64_t kParallelElements = int64_t{1} << 15;

// Strided gather with dtype conversion: the "copy" op, and the way other ops make inputs contiguous.
// Broadcast views (stride 0, as in nearest upsampling) and transposes are common: dims are coalesced
// first, rows are addressed on the fly (no per-row tables, which for tiny rows cost more than the data),
// and when the last dim is short the last two dims form the inner block so each row carries real work.
struct CopyLayout {
  Shape shape, source_strides, target_strides;
};

CopyLayout coalesce(const Tensor& x, const Tensor& out) {
  CopyLayout layout;
  for (int dim = 0; dim < x.ndim(); ++dim) {
    if (x.size(dim) == 1) continue;
    if (!layout.shape.empty() && layout.source_strides.back() == x.stride(dim) * x.size(dim) &&
        layout.target_strides.back() == out.stride(dim) * x.size(dim)) {
      layout.shape.back() *= x.size(dim);
      layout.source_strides.back() = x.stride(dim);
      layout.target_strides.back() = out.stride(dim);
      continue;
    }
    layout.shape.push_back(x.size(dim));
    layout.source_strides.push_back(x.stride(dim));
    layout.target_strides.push_back(out.stride(dim));
  }
  if (layout.shape.empty()) layout = CopyLayout{{1}, {1}, {1}};
  return layout;
}

template <class Element>
void copy_elements(const char* source, int64_t source_step, char* target, int64_t target_step,
                   int64_t count) {
  const Element* from = reinterpret_cast<const Element*>(source);
  Element* to = reinterpret_cast<Element*>(target);
  for (int64_t i = 0; i < count; ++i) to[i * target_step] = from[i * source_step];
}

// One strided row of `count` elements (steps in elements); `scratch` holds two rows of staging.
void copy_row(const char* source, DType source_dtype, int64_t source_step, char* target, DType target_dtype,
              int64_t target_step, int64_t count, std::vector<char>& scratch) {
  const int64_t source_size = static_cast<int64_t>(dtype_size(source_dtype)),
                target_size = static_cast<int64_t>(dtype_size(target_dtype));
  if (source_step == 1 && target_step == 1) {
    convert_elements(source, source_dtype, target, target_dtype, static_cast<size_t>(count));
    return;
  }
  if (source_dtype == target_dtype) {
    switch (source_size) {
      case 4:
        return copy_elements<uint32_t>(source, source_step, target, target_step, count);
      case 2:
        return copy_elements<uint16_t>(source, source_step, target, target_step, count);
      case 1:
        return copy_elements<uint8_t>(source, source_step, target, target_step, count);
      default:
        break;
    }
  }
  // Different dtypes: gather, convert in one call, scatter.
  scratch.resize(static_cast<size_t>(count * (source_size + target_size)));
  char* gathered = scratch.data();
  char* converted = scratch.data() + count * source_size;
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(gathered + i * source_size, source + i * source_step * source_size, source_size);
  convert_elements(gathered, source_dtype, converted, target_dtype, static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(target + i * target_step * target_size, converted + i * target_size, target_size);
}

void strided_copy(const Tensor& x, Tensor& out) {
  if (x.shape() != out.shape())
    throw Error("copy", concat("cannot copy ", x.describe(), " into ", out.describe(), ": shapes differ"));
  const char* source = static_cast<const char*>(x.raw_data());
  char* target = static_cast<char*>(out.raw_data());
  const int64_t source_size = static_cast<int64_t>(x.element_size()),
                target_size = static_cast<int64_t>(out.element_size());
  const int64_t count = x.numel();
  if (count == 0) return;
  if (x.is_contiguous() && out.is_contiguous()) {
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
    for (int64_t start = 0; start < count; start += kChunk) {
      const int64_t n = std::min(kChunk, count - start);
      convert_elements(source + start * source_size, x.dtype(), target + start * target_size, out.dtype(),
                       static_cast<size_t>(n));
    }
    return;
  }
  const CopyLayout layout = coalesce(x, out);
  const int rank = static_cast<int>(layout.shape.size());
  // Inner block: the last dim, or the last two when the last is short (then walked column by column).
  const int inner_dims = rank >= 2 && layout.shape.back() < 32 ? 2 : 1;
  const int outer_rank = rank - inner_dims;
  int64_t outer_count = 1;
  for (int dim = 0; dim < outer_rank; ++dim) outer_count *= layout.shape[dim];
  const int64_t width = layout.shape.back();
  const int64_t rows = inner_dims == 2 ? layout.shape[rank - 2] : 1;
  const int64_t source_step = layout.source_strides.back(), target_step = layout.target_strides.back();
  const int64_t source_row = inner_dims == 2 ? layout.source_strides[rank - 2] : 0;
  const int64_t target_row = inner_dims == 2 ? layout.target_strides[rank - 2] : 0;
#pragma omp parallel if (count >= kParallelElements)
  {
    std::vector<char> scratch;
#pragma omp for schedule(static)
    for (int64_t outer = 0; outer < outer_count; ++outer) {
      int64_t source_offset = 0, target_offset = 0, rest = outer;
      for (int dim = outer_rank - 1; dim >= 0; --dim) {
        const int64_t index = rest % layout.shape[dim];
        rest /= layout.shape[dim];
        source_offset += index * layout.source_strides[dim];
        target_offset += index * layout.target_strides[dim];
      }
      const char* source_block = source + source_offset * source_size;
      char* target_block = target + target_offset * target_size;
      if (inner_dims == 1) {
        copy_row(source_block, x.dtype(), source_step, target_block, out.dtype(), target_step, width,
                 scratch);
        continue;
      }
      // The short last dim outside, the longer one as the row: one call per column of the block.
      for (int64_t column = 0; column < width; ++column)
        copy_row(source_block + column * source_step * source_size, x.dtype(), source_row,
                 target_block + column * target_step * target_size, out.dtype(), target_row, rows, scratch);
    }
  }
}

Tensor contiguous_input(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor packed = Tensor::host(x.shape(), x.dtype());
  strided_copy(x, packed);
  return packed;
}

// An operand read chunk by chunk: either as large as the target (read in step) or a small broadcast
// vector converted to f32 once.
class Operand {
 public:
  Operand(const Tensor& tensor, int64_t target_count) : tensor_(contiguous_input(tensor)) {
    full_ = tensor_.numel() == target_count;
    if (!full_) values_ = tensor_.to_floats();
  }
  [[gnu::always_inline]] void read(int64_t start, int64_t count, float* target) const {
    if (full_) {
      cpu::load_row(
          static_cast<const char*>(tensor_.raw_data()) + start * static_cast<int64_t>(tensor_.element_size()),
          tensor_.dtype(), count, target);
      return;
    }
    const int64_t period = static_cast<int64_t>(values_.size());
    int64_t index = start % period;
    for (int64_t i = 0; i < count; ++i) {
      target[i] = values_[index];
      if (++index == period) index = 0;
    }
  }

 private:
  Tensor tensor_;
  bool full_ = false;
  std::vector<float> values_;
};

// The ops computed chunk by chunk in f32: x (and its operands, read in step or broadcast) in place.
enum class ChunkOp { gelu_tanh, gelu_erf, silu, scale, clamp, add, mul, modulate, gated_residual };

float gelu_erf(float x) {
  return 0.5f * x * (1.0f + std::erf(x * 0.7071067811865476f));
}

[[gnu::always_inline]] inline void apply_chunk_op(ChunkOp op, const float* params, float* x,
                                                  float* const* operands, int64_t n) {
  switch (op) {
    case ChunkOp::gelu_tanh:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) x[i] = cpu::gelu_tanh(x[i]);
      return;
    case ChunkOp::gelu_erf:
      for (int64_t i = 0; i < n; ++i) x[i] = gelu_erf(x[i]);
      return;
    case ChunkOp::silu:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) x[i] = cpu::silu(x[i]);
      return;
    case ChunkOp::scale: {
      const float multiplier = params[0], offset = params[1];
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] * multiplier + offset;
      return;
    }
    case ChunkOp::clamp: {
      const float low = params[0], high = params[1];
      for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], low), high);
      return;
    }
    case ChunkOp::add: {
      const float* b = operands[0];
      for (int64_t i = 0; i < n; ++i) x[i] += b[i];
      return;
    }
    case ChunkOp::mul: {
      const float* b = operands[0];
      for (int64_t i = 0; i < n; ++i) x[i] *= b[i];
      return;
    }
    case ChunkOp::modulate: {
      const float *shift = operands[0], *scale = operands[1];
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] * (1.0f + scale[i]) + shift[i];
      return;
    }
    case ChunkOp::gated_residual: {
      const float *y = operands[0], *gate = operands[1];
      for (int64_t i = 0; i < n; ++i) x[i] += y[i] * gate[i];
      return;
    }
  }
}

// One chunk [start, start + n): read x and the operands into f32 buffers, apply `op`, store to target.
[[gnu::always_inline]] inline void run_one_chunk(ChunkOp op, const float* params, const Operand& source,
                                                 const std::vector<Operand>& operands, char* target,
                                                 DType target_dtype, int64_t start, int64_t n, float* buffer,
                                                 float* const* operand_buffers) {
  source.read(start, n, buffer);
  for (size_t i = 0; i < operands.size(); ++i) operands[i].read(start, n, operand_buffers[i]);
  apply_chunk_op(op, params, buffer, operand_buffers, n);
  cpu::store_row(buffer, n, target + start * static_cast<int64_t>(dtype_size(target_dtype)), target_dtype);
}
X2V_CPU_MULTIVERSION(run_chunk, run_one_chunk)

struct ChunkOpInfo {
  const char* name;
  ChunkOp op;
  size_t inputs;
  size_t params;  // how many parameters the op takes
  const char* params_meaning;
};

void run_chunks(const ChunkOpInfo& info, const std::vector<float>& params, const std::vector<Tensor>& inputs,
                Tensor& out) {
  const char* op = info.name;
  if (inputs.size() != info.inputs)
    throw Error(op, concat("expects ", info.inputs, " inputs, got ", inputs.size()));
  if (info.params > 0 && params.size() != info.params)
    throw Error(
        op, concat("expects ", info.params, " parameters (", info.params_meaning, "), got ", params.size()));
  const Tensor& x = inputs[0];
  if (x.shape() != out.shape())
    throw Error(op, concat("out ", out.describe(), " must match input ", x.describe()));
  for (size_t i = 1; i < inputs.size(); ++i) check_broadcast_operand(op, x, inputs[i]);
  if (!out.is_contiguous()) throw Error(op, concat("out ", out.describe(), " must be contiguous"));
  const int64_t count = x.numel();
  const Operand source(x, count);
  std::vector<Operand> operands;
  for (size_t i = 1; i < inputs.size(); ++i) operands.emplace_back(inputs[i], count);
  char* target = static_cast<char*>(out.raw_data());
#pragma omp parallel if (count >= kParallelElements)
  {
    std::vector<float> buffer(kChunk);
    std::vector<std::vector<float>> operand_buffers(operands.size(), std::vector<float>(kChunk));
    std::vector<float*> operand_pointers;
    for (auto& operand_buffer : operand_buffers) operand_pointers.push_back(operand_buffer.data());
#pragma omp for schedule(static)
    for (int64_t start = 0; start < count; start += kChunk)
      run_chunk(info.op, params.data(), source, operands, target, out.dtype(), start,
                std::min(kChunk, count - start), buffer.data(), operand_pointers.data());
  }
}

class FunctionKernel : public ElementwiseKernel {
 public:
  explicit FunctionKernel(const ChunkOpInfo& info) : info_(info) {}
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    run_chunks(info_, params_, inputs, out);
  }

 private:
  ChunkOpInfo info_;
};

class CopyKernel : public ElementwiseKernel {
 public:
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    if (inputs.size() != 1) throw Error("copy", "expects 1 input");
    strided_copy(inputs[0], out);
  }
};

class SoftmaxKernel : public ElementwiseKernel {
 public:
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    if (inputs.size() != 1) throw Error("softmax", "expects 1 input");
    const Tensor x = contiguous_input(inputs[0]);
    if (x.shape() != out.shape() || !out.is_contiguous() || x.ndim() < 1)
      throw Error("softmax", concat("out ", out.describe(), " must be contiguous and match ", x.describe()));
    const int64_t width = x.size(-1), rows = x.numel() / width;
    const char* source = static_cast<const char*>(x.raw_data());
    char* target = static_cast<char*>(out.raw_data());
#pragma omp parallel if (x.numel() >= kParallelElements)
    {
      std::vector<float> row(width);
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        cpu::load_row(source + r * width * static_cast<int64_t>(x.element_size()), x.dtype(), width,
                      row.data());
        float max_value = -INFINITY, total = 0;
        for (int64_t c = 0; c < width; ++c) max_value = std::max(max_value, row[c]);
        for (int64_t c = 0; c < width; ++c) total += (row[c] = std::exp(row[c] - max_value));
        const float inverse = 1.0f / total;
        for (int64_t c = 0; c < width; ++c) row[c] *= inverse;
        cpu::store_row(row.data(), width, target + r * width * static_cast<int64_t>(out.element_size()),
                       out.dtype());
      }
    }
  }
};

class FillKernel : public ElementwiseKernel {
 public:
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    if (!inputs.empty() || params_.size() != 1) throw Error("fill", "expects no inputs and one parameter");
    Tensor value = Tensor::host({1}, out.dtype());
    convert_elements(&params_[0], DType::f32, value.raw_data(), out.dtype(), 1);
    if (out.is_contiguous()) {
      const size_t size = out.element_size();
      char* target = static_cast<char*>(out.raw_data());
      const char* pattern = static_cast<const char*>(value.raw_data());
#pragma omp parallel for schedule(static) if (out.numel() >= kParallelElements)
      for (int64_t i = 0; i < out.numel(); ++i) std::memcpy(target + i * size, pattern, size);
      return;
    }
    // A broadcast view of the single value, gathered by the strided copy.
    strided_copy(value.as_strided(out.shape(), Shape(out.ndim(), 0), 0), out);
  }
};

// channel_l2_norm: x [C, ...] normalized over dim 0 at every position, SiLU fused when asked. Positions
// are taken in blocks small enough that the block's C rows stay in cache between the sum of squares and
// the scaling pass. `out` may be a slice of a larger buffer along dim 1 (any channel stride).
bool channels_are_contiguous(const Tensor& tensor) {
  const Shape strides = contiguous_strides(tensor.shape());
  for (int dim = 1; dim < tensor.ndim(); ++dim)
    if (tensor.size(dim) > 1 && tensor.stride(dim) != strides[dim]) return false;
  return true;
}

// One block of positions of channel_l2_norm: `count` positions of every channel.
struct ChannelBlock {
  const char* source;  // at the block's first position of channel 0
  DType source_dtype;
  int64_t source_channel_stride;
  char* target;
  DType target_dtype;
  int64_t target_channel_stride;
  int64_t channels, count, row_capacity;  // rows in `rows` are row_capacity apart
};

[[gnu::always_inline]] inline void normalize_channel_block_body(const ChannelBlock& part, const float* gamma,
                                                                float root_channels, float eps, bool silu,
                                                                float* rows, float* factors) {
  const int64_t n = part.count;
  const int64_t source_size = static_cast<int64_t>(dtype_size(part.source_dtype)),
                target_size = static_cast<int64_t>(dtype_size(part.target_dtype));
  for (int64_t i = 0; i < n; ++i) factors[i] = 0.0f;
  for (int64_t c = 0; c < part.channels; ++c) {
    float* row = rows + c * part.row_capacity;
    cpu::load_row(part.source + c * part.source_channel_stride * source_size, part.source_dtype, n, row);
    for (int64_t i = 0; i < n; ++i) factors[i] += row[i] * row[i];
  }
  for (int64_t i = 0; i < n; ++i) factors[i] = root_channels / std::max(std::sqrt(factors[i]), eps);
  for (int64_t c = 0; c < part.channels; ++c) {
    float* row = rows + c * part.row_capacity;
    const float scale = gamma[c];
    for (int64_t i = 0; i < n; ++i) row[i] *= factors[i] * scale;
    if (silu) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) row[i] = cpu::silu(row[i]);
    }
    cpu::store_row(row, n, part.target + c * part.target_channel_stride * target_size, part.target_dtype);
  }
}
X2V_CPU_MULTIVERSION(normalize_channel_block, normalize_channel_block_body)

class ChannelL2NormKernel : public ElementwiseKernel {
 public:
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    if (inputs.size() != 2) throw Error("channel_l2_norm", "expects 2 inputs (x, gamma)");
    const Tensor x = contiguous_input(inputs[0]);
    const std::vector<float> gamma = inputs[1].to_floats();
    if (x.ndim() < 1 || x.shape() != out.shape() || !channels_are_contiguous(out) ||
        static_cast<int64_t>(gamma.size()) != x.size(0))
      throw Error(
          "channel_l2_norm",
          concat("x ", x.describe(), ", gamma ", inputs[1].describe(), ", out ", out.describe(),
                 ": expected x [C, ...], gamma of C elements and an out like x, contiguous per channel"));
    const float eps = params_.empty() ? 1e-12f : params_[0];
    const bool silu = params_.size() > 1 && params_[1] != 0.0f;
    const int64_t channels = x.size(0), positions = x.numel() / std::max<int64_t>(channels, 1);
    const int64_t out_channel_stride = channels > 1 ? out.stride(0) : positions;
    const float root_channels = std::sqrt(static_cast<float>(channels));
    const int64_t block = std::clamp<int64_t>((int64_t{1} << 16) / std::max<int64_t>(channels, 1), 16, 1024);
    const char* source = static_cast<const char*>(x.raw_data());
    char* target = static_cast<char*>(out.raw_data());
    const int64_t source_size = static_cast<int64_t>(x.element_size()),
                  target_size = static_cast<int64_t>(out.element_size());
#pragma omp parallel if (x.numel() >= kParallelElements)
    {
      std::vector<float> rows(static_cast<size_t>(channels * block)), factors(static_cast<size_t>(block));
#pragma omp for schedule(static)
      for (int64_t start = 0; start < positions; start += block) {
        const ChannelBlock part{source + start * source_size,
                                x.dtype(),
                                positions,
                                target + start * target_size,
                                out.dtype(),
                                out_channel_stride,
                                channels,
                                std::min(block, positions - start),
                                block};
        normalize_channel_block(part, gamma.data(), root_channels, eps, silu, rows.data(), factors.data());
      }
    }
  }
};

}  // namespace

void register_cpu_elementwise(KernelRegistries& kernels) {
  auto& registry = kernels.elementwise;
  registry.add("copy", [] { return std::make_unique<CopyKernel>(); });
  registry.add("softmax", [] { return std::make_unique<SoftmaxKernel>(); });
  registry.add("fill", [] { return std::make_unique<FillKernel>(); });
  registry.add("channel_l2_norm", [] { return std::make_unique<ChannelL2NormKernel>(); });
  static const ChunkOpInfo kChunkOps[] = {{"gelu_tanh", ChunkOp::gelu_tanh, 1, 0, "none"},
                                          {"gelu_erf", ChunkOp::gelu_erf, 1, 0, "none"},
                                          {"silu", ChunkOp::silu, 1, 0, "none"},
                                          {"scale", ChunkOp::scale, 1, 2, "multiplier, offset"},
                                          {"clamp", ChunkOp::clamp, 1, 2, "low, high"},
                                          {"add", ChunkOp::add, 2, 0, "none"},
                                          {"mul", ChunkOp::mul, 2, 0, "none"},
                                          {"modulate", ChunkOp::modulate, 3, 0, "none"},
                                          {"gated_residual", ChunkOp::gated_residual, 3, 0, "none"}};
  for (const ChunkOpInfo& info : kChunkOps)
    registry.add(info.name, [&info] { return std::make_unique<FunctionKernel>(info); });
}

}  // namespace x2v
