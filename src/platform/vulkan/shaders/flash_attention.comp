#version 450
#extension GL_GOOGLE_include_directive : require
// Flash attention (f32, bf16 or f16 tensors, f32 math): out = softmax(q k^T * scale + bias) v for head_dim <= 128.
// A workgroup takes 64 query rows of one (batch, head), an invocation one row; keys and values come in tiles of
// 16, staged in shared memory once for all 64 rows, and the softmax runs online (a running maximum rescales the
// sum and the accumulator), so memory stays linear in length and each key is read once per 64 queries. Only
// barriers and shared memory: no subgroup size is assumed. Layouts as attention.comp (which takes head_dim up
// to 256): q/k/v/out [batch, heads, len, head_dim] views with any batch/head/row strides, bias [heads, q_len,
// kv_len] contiguous, keys at or past key_length[batch] masked.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
const uint kGroupSize = 64u;
const uint kKeyTile = 16u;
const uint kMaxHeadDim = 128u;  // 2 x 16 x 128 floats of shared memory: the 16 KiB every device has
INPUT(0, q);
INPUT(1, k);
INPUT(2, v);
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
OUTPUT(4, out_values);

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
  uint strides[12];    // batch, head and row strides of q, k, v, out in turn
  uint key_length[2];  // per batch entry (batch <= 2); 0: all keys
} p;

shared float k_tile[kKeyTile * kMaxHeadDim];
shared float v_tile[kKeyTile * kMaxHeadDim];

void main() {
  const uint local = gl_LocalInvocationID.x, d = p.head_dim;
  const uint q_dtype = dtype_of(p.dtypes, 0u), k_dtype = dtype_of(p.dtypes, 1u), v_dtype = dtype_of(p.dtypes, 2u);
  const uint row_blocks = (p.q_len + kGroupSize - 1u) / kGroupSize;
  for (uint block = gl_WorkGroupID.x; block < p.batch * p.heads * row_blocks; block += gl_NumWorkGroups.x) {
    const uint head = (block / row_blocks) % p.heads, b = block / (row_blocks * p.heads);
    const uint row = (block % row_blocks) * kGroupSize + local;
    const bool in_range = row < p.q_len;  // inactive invocations still load tiles and meet the barriers
    const uint keys = (b < 2u && p.key_length[b] != 0u) ? p.key_length[b] : p.kv_len;
    const uint k_head = p.base[1] + b * p.strides[3] + head * p.strides[4];
    const uint v_head = p.base[2] + b * p.strides[6] + head * p.strides[7];
    const uint bias_row = p.base[3] + (head * p.q_len + row) * p.kv_len;
    float query[kMaxHeadDim], accumulator[kMaxHeadDim];
    const uint q_at = p.base[0] + b * p.strides[0] + head * p.strides[1] + row * p.strides[2];
    for (uint c = 0u; c < d; ++c) {
      query[c] = in_range ? LOAD(q, q_dtype, q_at + c) : 0.0;
      accumulator[c] = 0.0;
    }
    float largest = -3.402823e38, total_weight = 0.0;
    for (uint first_key = 0u; first_key < keys; first_key += kKeyTile) {
      const uint tile_keys = min(kKeyTile, keys - first_key);
      for (uint at = local; at < tile_keys * d; at += kGroupSize) {
        const uint j = at / d, c = at % d;
        k_tile[at] = LOAD(k, k_dtype, k_head + (first_key + j) * p.strides[5] + c);
        v_tile[at] = LOAD(v, v_dtype, v_head + (first_key + j) * p.strides[8] + c);
      }
      barrier();
      if (in_range) {
        float scores[kKeyTile];
        float tile_largest = largest;
        for (uint j = 0u; j < tile_keys; ++j) {
          float score = 0.0;
          for (uint c = 0u; c < d; ++c) score = fma(query[c], k_tile[j * d + c], score);
          score *= p.scale;
          if (p.has_bias != 0u) score += bias[bias_row + first_key + j];
          scores[j] = score;
          tile_largest = max(tile_largest, score);
        }
        // Rescale what was summed under the old maximum, then add this tile's keys.
        const float rescale = exp(largest - tile_largest);
        total_weight *= rescale;
        for (uint c = 0u; c < d; ++c) accumulator[c] *= rescale;
        for (uint j = 0u; j < tile_keys; ++j) {
          const float weight = exp(scores[j] - tile_largest);
          total_weight += weight;
          for (uint c = 0u; c < d; ++c) accumulator[c] = fma(weight, v_tile[j * d + c], accumulator[c]);
        }
        largest = tile_largest;
      }
      barrier();
    }
    if (in_range) {
      const uint out_at = p.base[4] + b * p.strides[9] + head * p.strides[10] + row * p.strides[11];
      for (uint c = 0u; c < d; ++c) STORE(out_values, dtype_of(p.dtypes, 4u), out_at + c, accumulator[c] / total_weight);
    }
  }
}
