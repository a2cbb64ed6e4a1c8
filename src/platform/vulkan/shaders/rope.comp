#version 450
#extension GL_GOOGLE_include_directive : require
// Rotary embedding from tables: x, out [tokens, heads, head_dim] (f32, bf16 or f16) (token and head strides in elements,
// head_dim contiguous), cos/sin [tokens, head_dim / 2] contiguous; interleaved pairs. out may be x.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
INPUT(0, x);
layout(std430, binding = 1) readonly buffer Cos { float cos_table[]; };
layout(std430, binding = 2) readonly buffer Sin { float sin_table[]; };
OUTPUT(3, out_values);
layout(push_constant) uniform Push {
  uint base[6];
  uint dtypes;
  uint tokens;
  uint heads;
  uint pairs;
  uint x_token_stride;
  uint x_head_stride;
  uint out_token_stride;
  uint out_head_stride;
} p;

void main() {
  const uint total = p.tokens * p.heads * p.pairs;
  const uint x_dtype = dtype_of(p.dtypes, 0u), out_dtype = dtype_of(p.dtypes, 3u);
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < total; i += stride) {
    const uint pair = i % p.pairs, head = (i / p.pairs) % p.heads, token = i / (p.pairs * p.heads);
    const uint in_at = p.base[0] + token * p.x_token_stride + head * p.x_head_stride + 2u * pair;
    const uint out_at = p.base[3] + token * p.out_token_stride + head * p.out_head_stride + 2u * pair;
    const float c = cos_table[p.base[1] + token * p.pairs + pair], s = sin_table[p.base[2] + token * p.pairs + pair];
    const float even = LOAD(x, x_dtype, in_at), odd = LOAD(x, x_dtype, in_at + 1u);
    STORE(out_values, out_dtype, out_at, even * c - odd * s);
    STORE(out_values, out_dtype, out_at + 1u, even * s + odd * c);
  }
}
