#version 450
#extension GL_GOOGLE_include_directive : require
// Exact attention (f32, bf16 or f16 tensors, f32 math): out = softmax(q k^T * scale + bias) v, one invocation per (batch, head, query) row.
// q/k/v/out are [batch, heads, len, head_dim] views with any batch/head/row strides (head_dim contiguous);
// bias (optional) is [heads, q_len, kv_len] contiguous; keys at or past key_length[batch] are masked.
// Two passes over the keys (the row maximum, then the weighted sum), so memory stays linear in length.
// head_dim <= 256.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
const uint kMaxHeadDim = 256;  // larger head dims run the host fallback
INPUT(0, q);
INPUT(1, k);
INPUT(2, v);
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
OUTPUT(4, out_values);
// Compensated (Kahan) dot product: f32 sums close to the cpu's, so quantized activations downstream round
// the same way.
float dot_q_k(uint q_at, uint k_at, uint count);

layout(push_constant) uniform Push {
  uint base[6];
  uint dtypes;
  uint batch;
  uint heads;
  uint q_len;
  uint kv_len;
  uint head_dim;
  float scale;
  uint has_bias;
  uint strides[12];  // batch, head and row strides of q, k, v, out in turn
  uint key_length[2];  // per batch entry (batch <= 2); 0: all keys
} p;

float dot_q_k(uint q_at, uint k_at, uint count) {
  precise float sum = 0.0, compensation = 0.0;
  for (uint c = 0u; c < count; ++c) {
    precise const float term = LOAD(q, dtype_of(p.dtypes, 0u), q_at + c) * LOAD(k, dtype_of(p.dtypes, 1u), k_at + c) - compensation;
    precise const float next = sum + term;
    compensation = (next - sum) - term;
    sum = next;
  }
  return sum;
}

void main() {
  const uint total = p.batch * p.heads * p.q_len;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint item = gl_GlobalInvocationID.x; item < total; item += stride) {
    const uint row = item % p.q_len, head = (item / p.q_len) % p.heads, b = item / (p.q_len * p.heads);
    const uint keys = (b < 2u && p.key_length[b] != 0u) ? p.key_length[b] : p.kv_len;
    const uint q_at = p.base[0] + b * p.strides[0] + head * p.strides[1] + row * p.strides[2];
    const uint k_head = p.base[1] + b * p.strides[3] + head * p.strides[4];
    const uint v_head = p.base[2] + b * p.strides[6] + head * p.strides[7];
    const uint out_at = p.base[4] + b * p.strides[9] + head * p.strides[10] + row * p.strides[11];
    const uint bias_row = p.base[3] + (head * p.q_len + row) * p.kv_len;
    float largest = -3.402823e38;
    for (uint j = 0u; j < keys; ++j) {
      float score = dot_q_k(q_at, k_head + j * p.strides[5], p.head_dim);
      score = score * p.scale + (p.has_bias != 0u ? bias[bias_row + j] : 0.0);
      largest = max(largest, score);
    }
    // The weighted sum in private memory, written once.
    float accumulator[kMaxHeadDim];
    for (uint c = 0u; c < p.head_dim; ++c) accumulator[c] = 0.0;
    float total_weight = 0.0;
    for (uint j = 0u; j < keys; ++j) {
      float score = dot_q_k(q_at, k_head + j * p.strides[5], p.head_dim);
      score = score * p.scale + (p.has_bias != 0u ? bias[bias_row + j] : 0.0);
      const float weight = exp(score - largest);
      total_weight += weight;
      for (uint c = 0u; c < p.head_dim; ++c) accumulator[c] += weight * LOAD(v, dtype_of(p.dtypes, 2u), v_head + j * p.strides[8] + c);
    }
    for (uint c = 0u; c < p.head_dim; ++c) STORE(out_values, dtype_of(p.dtypes, 4u), out_at + c, accumulator[c] / total_weight);
  }
}
