#version 450
#extension GL_GOOGLE_include_directive : require
// y[r, o] = (sum_k x[r, k] * decode(w[o, k])) * scale[o] + bias[o]: float8 e4m3fn weights with per-output-channel
// scales, weight-only (x stays in its dtype: f32, bf16 or f16), f32 sums. Tiled as mm.comp; the weight bytes are
// read from 32-bit words, so no 8-bit storage feature is needed.
#include "tiled_mm.glsl"
INPUT(0, x);
layout(std430, binding = 1) readonly buffer W { uint w_words[]; };
layout(std430, binding = 2) readonly buffer Scale { float scale[]; };
INPUT(3, bias);
OUTPUT(4, y);
layout(push_constant) uniform Push {
  uint base[6];  // binding 1 in bytes
  uint dtypes;
  uint rows, in_features, out_features, has_bias;
  uint y_row_stride;  // elements between rows of y: out_features, or more for a column slice of a wider y
} p;

// float8 e4m3fn: sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, S.1111.111 is NaN.
float decode_e4m3(uint bits) {
  const uint exponent = (bits >> 3) & 15u, mantissa = bits & 7u;
  float magnitude;
  if (exponent == 15u && mantissa == 7u) {
    magnitude = uintBitsToFloat(0x7fc00000u);
  } else if (exponent == 0u) {
    magnitude = float(mantissa) * 0.001953125;  // mantissa / 8 * 2^-6
  } else {
    magnitude = uintBitsToFloat(((exponent + 120u) << 23) | (mantissa << 20));
  }
  return (bits & 128u) != 0u ? -magnitude : magnitude;
}

uint weight_byte(uint at) {
  return (w_words[at >> 2] >> ((at & 3u) * 8u)) & 255u;
}

shared float x_tile[kSliceK][kTileRows + 1];
shared float w_tile[kSliceK][kTileColumns + 1];

void main() {
  const uint x_dtype = dtype_of(p.dtypes, 0u), bias_dtype = dtype_of(p.dtypes, 3u), y_dtype = dtype_of(p.dtypes, 4u);
  const uint local = gl_LocalInvocationID.x;
  const uint row_blocks = (p.rows + kTileRows - 1u) / kTileRows;
  const uint column_blocks = (p.out_features + kTileColumns - 1u) / kTileColumns;
  for (uint block = gl_WorkGroupID.x; block < row_blocks * column_blocks; block += gl_NumWorkGroups.x) {
    const uint first_row = (block / column_blocks) * kTileRows;
    const uint first_column = (block % column_blocks) * kTileColumns;
    float sums[kPerInvocation][kPerInvocation];
    for (uint i = 0u; i < kPerInvocation; ++i)
      for (uint j = 0u; j < kPerInvocation; ++j) sums[i][j] = 0.0;
    for (uint k0 = 0u; k0 < p.in_features; k0 += kSliceK) {
      // Weights decoded once as they are staged.
      for (uint load = local; load < kTileRows * kSliceK; load += kGroupSize) {
        const uint r = load / kSliceK, k = load % kSliceK;
        const uint row = first_row + r, column = first_column + r, at_k = k0 + k;
        x_tile[k][r] = row < p.rows && at_k < p.in_features
                           ? LOAD(x, x_dtype, p.base[0] + row * p.in_features + at_k) : 0.0;
        w_tile[k][r] = column < p.out_features && at_k < p.in_features
                           ? decode_e4m3(weight_byte(p.base[1] + column * p.in_features + at_k)) : 0.0;
      }
      barrier();
      float slice[kPerInvocation][kPerInvocation];
      for (uint i = 0u; i < kPerInvocation; ++i)
        for (uint j = 0u; j < kPerInvocation; ++j) slice[i][j] = 0.0;
      for (uint k = 0u; k < kSliceK; ++k) {
        float a[kPerInvocation], b[kPerInvocation];
        for (uint i = 0u; i < kPerInvocation; ++i) a[i] = x_tile[k][local / kLanes + kLanes * i];
        for (uint j = 0u; j < kPerInvocation; ++j) b[j] = w_tile[k][local % kLanes + kLanes * j];
        for (uint i = 0u; i < kPerInvocation; ++i)
          for (uint j = 0u; j < kPerInvocation; ++j) slice[i][j] = fma(a[i], b[j], slice[i][j]);
      }
      for (uint i = 0u; i < kPerInvocation; ++i)
        for (uint j = 0u; j < kPerInvocation; ++j) sums[i][j] += slice[i][j];
      barrier();
    }
    for (uint i = 0u; i < kPerInvocation; ++i) {
      const uint row = first_row + local / kLanes + kLanes * i;
      if (row >= p.rows) continue;
      for (uint j = 0u; j < kPerInvocation; ++j) {
        const uint column = first_column + local % kLanes + kLanes * j;
        if (column >= p.out_features) continue;
        float result = sums[i][j] * scale[p.base[2] + column];
        if (p.has_bias != 0u) result += LOAD(bias, bias_dtype, p.base[3] + column);
        STORE(y, y_dtype, p.base[4] + row * p.y_row_stride + column, result);
      }
    }
  }
}
