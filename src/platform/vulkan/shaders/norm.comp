#version 450
// RMS norm (layer_norm 0) or layer norm (1) over the last dim of f32 rows; rows may be strided (row_stride
// elements apart in x and out), the last dim is contiguous. One invocation per row; f32 math.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Weight { float weight[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) buffer Out { float out_values[]; };
layout(push_constant) uniform Push {
  uint base[6];
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
  for (uint row = gl_GlobalInvocationID.x; row < p.rows; row += stride) {
    const uint in_row = p.base[0] + row * p.x_row_stride, out_row = p.base[3] + row * p.out_row_stride;
    precise float mean = 0.0;
    if (p.layer_norm != 0u) {
      precise float mean_compensation = 0.0;
      for (uint c = 0u; c < p.width; ++c) {
        precise const float term = x[in_row + c] - mean_compensation;
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
      const float centered = x[in_row + c] - mean;
      precise const float term = centered * centered - compensation;
      precise const float next = squares + term;
      compensation = (next - squares) - term;
      squares = next;
    }
    const float inverse = 1.0 / sqrt(squares / float(p.width) + p.eps);  // inversesqrt is less exact
    for (uint c = 0u; c < p.width; ++c) {
      float value = (x[in_row + c] - mean) * inverse;
      if (p.has_weight != 0u) value *= weight[p.base[1] + c];
      if (p.has_bias != 0u) value += bias[p.base[2] + c];
      out_values[out_row + c] = value;
    }
  }
}
