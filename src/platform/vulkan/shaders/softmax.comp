#version 450
// softmax over the last dim of contiguous f32 rows; one invocation per row.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer Out { float out_values[]; };
layout(push_constant) uniform Push {
  uint base[6];
  uint rows;
  uint width;
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint row = gl_GlobalInvocationID.x; row < p.rows; row += stride) {
    const uint in_row = p.base[0] + row * p.width, out_row = p.base[1] + row * p.width;
    float largest = x[in_row];
    for (uint c = 1u; c < p.width; ++c) largest = max(largest, x[in_row + c]);
    float total = 0.0;
    for (uint c = 0u; c < p.width; ++c) total += exp(x[in_row + c] - largest);
    for (uint c = 0u; c < p.width; ++c) out_values[out_row + c] = exp(x[in_row + c] - largest) / total;
  }
}
