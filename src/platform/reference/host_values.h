#pragma once
// Logical float64 views of host tensors, shared by the reference kernels.
#include <vector>

#include "core/tensor.h"

namespace x2v::reference {

// All elements in logical (row-major) order, whatever the strides.
inline std::vector<double> read_values(const Tensor& tensor) {
  const std::vector<float> values = tensor.to_floats();
  return std::vector<double>(values.begin(), values.end());
}

// Writes logical row-major values into `out`, converting to its dtype and following its strides.
inline void write_values(const std::vector<double>& values, Tensor& out) {
  if (!out.is_host_accessible()) throw Error("reference", "reference kernels need host memory");
  char* base = static_cast<char*>(out.raw_data());
  const size_t size = out.element_size();
  int64_t index = 0;
  for_each_offset(out.shape(), out.strides(), [&](int64_t offset) {
    const float value = static_cast<float>(values[index++]);
    convert_elements(&value, DType::f32, base + offset * static_cast<int64_t>(size), out.dtype(), 1);
  });
}

// y = x w^T (+ bias) in fp64: x [rows, in] and w [out_features, in] as logical values, written into `y`.
inline void matmul_values(const std::vector<double>& x, const std::vector<double>& w, const Tensor& bias,
                          int64_t in, int64_t out_features, Tensor& y) {
  const int64_t rows = static_cast<int64_t>(x.size()) / in;
  const std::vector<double> b = bias.defined() ? read_values(bias) : std::vector<double>();
  std::vector<double> result(rows * out_features);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out_features; ++o) {
      double sum = b.empty() ? 0.0 : b[o];
      for (int64_t i = 0; i < in; ++i) sum += x[r * in + i] * w[o * in + i];
      result[r * out_features + o] = sum;
    }
  write_values(result, y);
}

}  // namespace x2v::reference
