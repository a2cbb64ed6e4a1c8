#version 450
#extension GL_GOOGLE_include_directive : require
// RMS norm (layer_norm 0) or layer norm (1) over the last dim of rows (f32, bf16 or f16); rows may be strided (row_stride
// elements apart in x and out), the last dim is contiguous. One invocation per row; f32 math.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
INPUT(0, x);
INPUT(1, weight);
INPUT(2, bias);
OUTPUT(3, out_values);
layout(push_constant) uniform Push {
  uint base[6];
  uint dtypes;
  uint rows;
  uint width;
  uint x_row_stride;
  uint out_row_stride;
  uint layer_norm;
  uint has_weight;
  uint has_bias;
  float eps;
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint x_dtype = dtype_of(p.dtypes, 0u), weight_dtype = dtype_of(p.dtypes, 1u),
             bias_dtype = dtype_of(p.dtypes, 2u), out_dtype = dtype_of(p.dtypes, 3u);
  for (uint row = gl_GlobalInvocationID.x; row < p.rows; row += stride) {
    const uint in_row = p.base[0] + row * p.x_row_stride, out_row = p.base[3] + row * p.out_row_stride;
    precise float mean = 0.0;
    if (p.layer_norm != 0u) {
      precise float mean_compensation = 0.0;
      for (uint c = 0u; c < p.width; ++c) {
        precise const float term = LOAD(x, x_dtype, in_row + c) - mean_compensation;
        precise const float next = mean + term;
        mean_compensation = (next - mean) - term;
        mean = next;
      }
      mean /= float(p.width);
    }
    // Compensated (Kahan) sums: f32 results close to the cpu's, so quantized activations downstream round
    // the same way.
    precise float squares = 0.0, compensation = 0.0;
    for (uint c = 0u; c < p.width; ++c) {
      const float centered = LOAD(x, x_dtype, in_row + c) - mean;
      precise const float term = centered * centered - compensation;
      precise const float next = squares + term;
      compensation = (next - squares) - term;
      squares = next;
    }
    const float inverse = 1.0 / sqrt(squares / float(p.width) + p.eps);  // inversesqrt is less exact
    for (uint c = 0u; c < p.width; ++c) {
      float value = (LOAD(x, x_dtype, in_row + c) - mean) * inverse;
      if (p.has_weight != 0u) value *= LOAD(weight, weight_dtype, p.base[1] + c);
      if (p.has_bias != 0u) value += LOAD(bias, bias_dtype, p.base[2] + c);
      STORE(out_values, out_dtype, out_row + c, value);
    }
  }
}
