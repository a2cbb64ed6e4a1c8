// Reference math of the elementwise ops (fp64, logical indexing, broadcast operands by suffix).
#include <algorithm>
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
  } else if (op == "clamp") {
    require_inputs(1);
    result = operand(0);
    for (double& value : result)
      value = std::min<double>(std::max<double>(value, params.at(0)), params.at(1));
  } else if (op == "channel_l2_norm") {
    // F.normalize over dim 0 (the channels) times sqrt(C) times gamma[c]; params: eps, silu flag.
    if (inputs.size() != 2) throw Error(op, concat("expects 2 inputs (x, gamma), got ", inputs.size()));
    const Tensor& x = inputs[0];
    if (x.ndim() < 1 || x.shape() != out.shape() || inputs[1].numel() != x.size(0))
      throw Error(op, concat("x ", x.describe(), ", gamma ", inputs[1].describe(), ", out ", out.describe(),
                             ": expected x [C, ...], gamma of C elements and out like x"));
    result = operand(0);
    const std::vector<double> gamma = operand(1);
    const int64_t channels = x.size(0), positions = x.numel() / std::max<int64_t>(channels, 1);
    const double eps = params.empty() ? 1e-12 : params[0];
    const bool silu = params.size() > 1 && params[1] != 0.0f;
    for (int64_t i = 0; i < positions; ++i) {
      double sum = 0;
      for (int64_t c = 0; c < channels; ++c) sum += result[c * positions + i] * result[c * positions + i];
      const double factor = std::sqrt(static_cast<double>(channels)) / std::max(std::sqrt(sum), eps);
      for (int64_t c = 0; c < channels; ++c) {
        double& value = result[c * positions + i];
        value *= factor * gamma[c];
        if (silu) value = value / (1.0 + std::exp(-value));
      }
    }
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
