// cpu elementwise ops: chunks of contiguous elements processed in parallel in f32. Broadcast operands
// (shift, scale, gate of shape [dim]) are indexed modulo their size.
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "platform/cpu/cpu_device.h"
#include "platform/cpu/fast_math.h"
#include "platform/cpu/row_access.h"

namespace x2v {
namespace {

constexpr int64_t kChunk = 4096;

// Strided gather with dtype conversion: the "copy" op, and the way other ops make inputs contiguous.
void strided_copy(const Tensor& x, Tensor& out) {
  if (x.shape() != out.shape())
    throw Error("copy", concat("cannot copy ", x.describe(), " into ", out.describe(), ": shapes differ"));
  const char* source = static_cast<const char*>(x.raw_data());
  char* target = static_cast<char*>(out.raw_data());
  const int64_t source_size = static_cast<int64_t>(x.element_size()),
                target_size = static_cast<int64_t>(out.element_size());
  const int64_t count = x.numel();
  if (x.is_contiguous() && out.is_contiguous()) {
#pragma omp parallel for schedule(static)
    for (int64_t start = 0; start < count; start += kChunk) {
      const int64_t n = std::min(kChunk, count - start);
      convert_elements(source + start * source_size, x.dtype(), target + start * target_size, out.dtype(),
                       static_cast<size_t>(n));
    }
    return;
  }
  if (count == 0) return;
  const int rank = x.ndim();
  const int64_t width = rank ? x.size(-1) : 1;
  const int64_t source_step = rank ? x.stride(-1) : 1, target_step = rank ? out.stride(-1) : 1;
  const Shape row_shape = rank ? Shape(x.shape().begin(), x.shape().end() - 1) : Shape();
  std::vector<int64_t> source_rows, target_rows;
  for_each_offset(row_shape, rank ? Shape(x.strides().begin(), x.strides().end() - 1) : Shape(),
                  [&](int64_t offset) { source_rows.push_back(offset); });
  for_each_offset(row_shape, rank ? Shape(out.strides().begin(), out.strides().end() - 1) : Shape(),
                  [&](int64_t offset) { target_rows.push_back(offset); });
  const int64_t rows = static_cast<int64_t>(source_rows.size());
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const char* source_row = source + source_rows[row] * source_size;
    char* target_row = target + target_rows[row] * target_size;
    if (source_step == 1 && target_step == 1) {
      convert_elements(source_row, x.dtype(), target_row, out.dtype(), static_cast<size_t>(width));
      continue;
    }
    for (int64_t i = 0; i < width; ++i)
      convert_elements(source_row + i * source_step * source_size, x.dtype(),
                       target_row + i * target_step * target_size, out.dtype(), 1);
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
  void read(int64_t start, int64_t count, float* target) const {
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

// Applies `combine(chunk_of_x, operand_chunks..., count)` in place on f32 chunks, then stores to out.
using ChunkFunction = std::function<void(float* x, const std::vector<float*>& operands, int64_t count)>;

void run_chunks(const char* op, const std::vector<Tensor>& inputs, size_t expected_inputs, Tensor& out,
                const ChunkFunction& function) {
  if (inputs.size() != expected_inputs)
    throw Error(op, concat("expects ", expected_inputs, " inputs, got ", inputs.size()));
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
  const int64_t target_size = static_cast<int64_t>(out.element_size());
#pragma omp parallel
  {
    std::vector<float> buffer(kChunk);
    std::vector<std::vector<float>> operand_buffers(operands.size(), std::vector<float>(kChunk));
    std::vector<float*> operand_pointers;
    for (auto& operand_buffer : operand_buffers) operand_pointers.push_back(operand_buffer.data());
#pragma omp for schedule(static)
    for (int64_t start = 0; start < count; start += kChunk) {
      const int64_t n = std::min(kChunk, count - start);
      source.read(start, n, buffer.data());
      for (size_t i = 0; i < operands.size(); ++i) operands[i].read(start, n, operand_pointers[i]);
      function(buffer.data(), operand_pointers, n);
      cpu::store_row(buffer.data(), n, target + start * target_size, out.dtype());
    }
  }
}

class FunctionKernel : public ElementwiseKernel {
 public:
  FunctionKernel(const char* op, size_t inputs, std::function<ChunkFunction(const std::vector<float>&)> make)
      : op_(op), inputs_(inputs), make_(std::move(make)) {}
  void apply(const std::vector<Tensor>& inputs, Tensor& out) override {
    run_chunks(op_, inputs, inputs_, out, make_(params_));
  }

 private:
  const char* op_;
  size_t inputs_;
  std::function<ChunkFunction(const std::vector<float>&)> make_;
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
#pragma omp parallel
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
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < out.numel(); ++i) std::memcpy(target + i * size, pattern, size);
      return;
    }
    // A broadcast view of the single value, gathered by the strided copy.
    strided_copy(value.as_strided(out.shape(), Shape(out.ndim(), 0), 0), out);
  }
};

float gelu_erf(float x) {
  return 0.5f * x * (1.0f + std::erf(x * 0.7071067811865476f));
}

ChunkFunction unary(float (*function)(float)) {
  return [function](float* x, const std::vector<float*>&, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = function(x[i]);
  };
}

// The hot activations get loops the compiler vectorizes (fast_math has no libm calls).
ChunkFunction vectorized_gelu_tanh() {
  return [](float* x, const std::vector<float*>&, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) x[i] = cpu::gelu_tanh(x[i]);
  };
}
ChunkFunction vectorized_silu() {
  return [](float* x, const std::vector<float*>&, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) x[i] = cpu::silu(x[i]);
  };
}

}  // namespace

void register_cpu_elementwise(KernelRegistries& kernels) {
  auto& registry = kernels.elementwise;
  auto add = [&](const char* op, size_t inputs,
                 std::function<ChunkFunction(const std::vector<float>&)> make) {
    registry.add(op, [=] { return std::make_unique<FunctionKernel>(op, inputs, make); });
  };
  registry.add("copy", [] { return std::make_unique<CopyKernel>(); });
  registry.add("softmax", [] { return std::make_unique<SoftmaxKernel>(); });
  registry.add("fill", [] { return std::make_unique<FillKernel>(); });
  add("gelu_tanh", 1, [](const std::vector<float>&) { return vectorized_gelu_tanh(); });
  add("gelu_erf", 1, [](const std::vector<float>&) { return unary(gelu_erf); });
  add("silu", 1, [](const std::vector<float>&) { return vectorized_silu(); });
  add("scale", 1, [](const std::vector<float>& params) -> ChunkFunction {
    if (params.size() != 2) throw Error("scale", "expects 2 parameters (multiplier, offset)");
    const float multiplier = params[0], offset = params[1];
    return [=](float* x, const std::vector<float*>&, int64_t n) {
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] * multiplier + offset;
    };
  });
  add("add", 2, [](const std::vector<float>&) -> ChunkFunction {
    return [](float* x, const std::vector<float*>& operands, int64_t n) {
      const float* b = operands[0];
      for (int64_t i = 0; i < n; ++i) x[i] += b[i];
    };
  });
  add("mul", 2, [](const std::vector<float>&) -> ChunkFunction {
    return [](float* x, const std::vector<float*>& operands, int64_t n) {
      const float* b = operands[0];
      for (int64_t i = 0; i < n; ++i) x[i] *= b[i];
    };
  });
  add("modulate", 3, [](const std::vector<float>&) -> ChunkFunction {
    return [](float* x, const std::vector<float*>& operands, int64_t n) {
      const float *shift = operands[0], *scale = operands[1];
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] * (1.0f + scale[i]) + shift[i];
    };
  });
  add("gated_residual", 3, [](const std::vector<float>&) -> ChunkFunction {
    return [](float* x, const std::vector<float*>& operands, int64_t n) {
      const float *y = operands[0], *gate = operands[1];
      for (int64_t i = 0; i < n; ++i) x[i] += y[i] * gate[i];
    };
  });
}

}  // namespace x2v
