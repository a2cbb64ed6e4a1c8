#version 450
// y[r, o] = sum_k x[r, k] * w[o, k] + bias[o], all f32 and contiguous, f32 accumulation. One invocation per
// output element (grid-stride), so it assumes no subgroup size.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer B { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push {
  uint base[6];
  uint rows;
  uint in_features;
  uint out_features;
  uint has_bias;
} p;

void main() {
  const uint total = p.rows * p.out_features;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint index = gl_GlobalInvocationID.x; index < total; index += stride) {
    const uint row = index / p.out_features, column = index % p.out_features;
    float sum = p.has_bias != 0u ? bias[p.base[2] + column] : 0.0;
    const uint x_row = p.base[0] + row * p.in_features, w_row = p.base[1] + column * p.in_features;
    precise float compensation = 0.0;  // Kahan: f32 sums close to the cpu's
    for (uint k = 0u; k < p.in_features; ++k) {
      precise const float term = x[x_row + k] * w[w_row + k] - compensation;
      precise const float next = sum + term;
      compensation = (next - sum) - term;
      sum = next;
    }
    y[p.base[3] + index] = sum;
  }
}
