// Reference math of the elementwise ops (fp64, logical indexing, broadcast operands by suffix).
#include <cmath>

#include "platform/reference/host_values.h"
#include "platform/reference/reference.h"

namespace x2v::reference {
namespace {

double gelu_tanh(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

}  // namespace

void elementwise(const std::string& op, const std::vector<Tensor>& inputs, const std::vector<float>& params,
                 Tensor& out) {
  auto require_inputs = [&](size_t count) {
    if (inputs.size() != count) throw Error(op, concat("expects ", count, " inputs, got ", inputs.size()));
    if (inputs[0].shape() != out.shape())
      throw Error(op, concat("out ", out.describe(), " must match input ", inputs[0].describe()));
    for (size_t i = 1; i < count; ++i) check_broadcast_operand(op.c_str(), inputs[0], inputs[i]);
  };
  std::vector<double> result;
  auto operand = [&](size_t input) { return read_values(inputs[input]); };
  if (op == "copy" || op == "gelu_tanh" || op == "gelu_erf" || op == "silu" || op == "scale") {
    require_inputs(1);
    result = operand(0);
    for (double& value : result) {
      if (op == "gelu_tanh") value = gelu_tanh(value);
      if (op == "gelu_erf") value = 0.5 * value * (1.0 + std::erf(value / std::sqrt(2.0)));
      if (op == "silu") value = value / (1.0 + std::exp(-value));
      if (op == "scale") value = value * params.at(0) + params.at(1);
    }
  } else if (op == "add" || op == "mul") {
    require_inputs(2);
    result = operand(0);
    const std::vector<double> b = operand(1);
    for (size_t i = 0; i < result.size(); ++i)
      result[i] = op == "add" ? result[i] + b[i % b.size()] : result[i] * b[i % b.size()];
  } else if (op == "modulate") {
    require_inputs(3);
    result = operand(0);
    const std::vector<double> shift = operand(1), scale = operand(2);
    for (size_t i = 0; i < result.size(); ++i)
      result[i] = result[i] * (1.0 + scale[i % scale.size()]) + shift[i % shift.size()];
  } else if (op == "gated_residual") {
    require_inputs(3);
    result = operand(0);
    const std::vector<double> y = operand(1), gate = operand(2);
    for (size_t i = 0; i < result.size(); ++i) result[i] += y[i % y.size()] * gate[i % gate.size()];
  } else if (op == "fill") {
    if (!inputs.empty() || params.size() != 1) throw Error(op, "expects no inputs and one parameter");
    result.assign(static_cast<size_t>(out.numel()), params[0]);
  } else if (op == "softmax") {
    require_inputs(1);
    result = operand(0);
    const int64_t width = out.size(-1);
    for (size_t row = 0; row < result.size() / width; ++row) {
      double* values = result.data() + row * width;
      double max_value = -INFINITY, total = 0;
      for (int64_t c = 0; c < width; ++c) max_value = std::max(max_value, values[c]);
      for (int64_t c = 0; c < width; ++c) total += (values[c] = std::exp(values[c] - max_value));
      for (int64_t c = 0; c < width; ++c) values[c] /= total;
    }
  } else {
    throw Error("reference", concat("unknown elementwise op '", op, "'"));
  }
  write_values(result, out);
}

}  // namespace x2v::reference
