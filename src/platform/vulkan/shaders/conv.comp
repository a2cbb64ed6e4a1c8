#version 450
#extension GL_GOOGLE_include_directive : require
// Convolution as an implicit GEMM, 2-D as 3-D with depth 1: x [N, C_in, D, H, W], weight [C_out, C_in, kD, kH, kW],
// out [N, C_out, oD, oH, oW], all contiguous (f32, bf16 or f16), per-side padding, strides, dilation, an optional
// bias. Per batch item, out [C_out, positions] = weight [C_out, C_in * taps] x columns [C_in * taps, positions],
// where the columns are gathered from x as they are loaded (never stored). Tiled as mm.comp: a workgroup computes
// 32 output channels x 32 positions, k in slices of 16 staged in shared memory, f32 accumulation.
#include "tiled_mm.glsl"
INPUT(0, x);
INPUT(1, weight);
INPUT(2, bias);
OUTPUT(3, out_values);
layout(push_constant) uniform Push {
  uint base[6];
  uint dtypes;
  uint batch, in_channels, out_channels;
  uint in_size[3];      // D, H, W
  uint out_size[3];     // oD, oH, oW
  uint kernel_size[3];  // kD, kH, kW
  uint stride[3];
  uint pad_begin[3];
  uint dilation[3];
  uint has_bias;
} p;

shared float w_tile[kSliceK][kTileRows + 1];     // [k][output channel]
shared float x_tile[kSliceK][kTileColumns + 1];  // [k][position]

void main() {
  const uint local = gl_LocalInvocationID.x;
  const uint positions = p.out_size[0] * p.out_size[1] * p.out_size[2];
  const uint in_spatial = p.in_size[0] * p.in_size[1] * p.in_size[2];
  const uint taps = p.kernel_size[0] * p.kernel_size[1] * p.kernel_size[2];
  const uint depth = p.in_channels * taps;
  const uint x_dtype = dtype_of(p.dtypes, 0u), w_dtype = dtype_of(p.dtypes, 1u);
  const uint channel_blocks = (p.out_channels + kTileRows - 1u) / kTileRows;
  const uint position_blocks = (positions + kTileColumns - 1u) / kTileColumns;
  const uint blocks = p.batch * channel_blocks * position_blocks;
  for (uint block = gl_WorkGroupID.x; block < blocks; block += gl_NumWorkGroups.x) {
    const uint n = block / (channel_blocks * position_blocks);
    const uint first_channel = ((block / position_blocks) % channel_blocks) * kTileRows;
    const uint first_position = (block % position_blocks) * kTileColumns;
    const uint x_item = p.base[0] + n * p.in_channels * in_spatial;
    float sums[kPerInvocation][kPerInvocation];
    for (uint i = 0u; i < kPerInvocation; ++i)
      for (uint j = 0u; j < kPerInvocation; ++j) sums[i][j] = 0.0;
    for (uint k0 = 0u; k0 < depth; k0 += kSliceK) {
      for (uint load = local; load < kTileRows * kSliceK; load += kGroupSize) {
        // Weights: consecutive invocations read consecutive k of one output channel.
        const uint r = load / kSliceK, k = load % kSliceK, channel = first_channel + r, at_k = k0 + k;
        w_tile[k][r] = channel < p.out_channels && at_k < depth
                           ? LOAD(weight, w_dtype, p.base[1] + channel * depth + at_k) : 0.0;
        // Columns: consecutive invocations read consecutive positions of one k (neighbouring x values).
        const uint c = load % kTileColumns, kc = load / kTileColumns, position = first_position + c;
        const uint column_k = k0 + kc;
        float value = 0.0;
        if (position < positions && column_k < depth) {
          const uint ci = column_k / taps, tap = column_k % taps;
          const uint kw = tap % p.kernel_size[2], kh = (tap / p.kernel_size[2]) % p.kernel_size[1];
          const uint kd = tap / (p.kernel_size[2] * p.kernel_size[1]);
          const uint ow = position % p.out_size[2], oh = (position / p.out_size[2]) % p.out_size[1];
          const uint od = position / (p.out_size[2] * p.out_size[1]);
          const int id = int(od * p.stride[0] + kd * p.dilation[0]) - int(p.pad_begin[0]);
          const int ih = int(oh * p.stride[1] + kh * p.dilation[1]) - int(p.pad_begin[1]);
          const int iw = int(ow * p.stride[2] + kw * p.dilation[2]) - int(p.pad_begin[2]);
          if (id >= 0 && id < int(p.in_size[0]) && ih >= 0 && ih < int(p.in_size[1]) && iw >= 0 &&
              iw < int(p.in_size[2]))
            value = LOAD(x, x_dtype,
                         x_item + ci * in_spatial + (uint(id) * p.in_size[1] + uint(ih)) * p.in_size[2] + uint(iw));
        }
        x_tile[kc][c] = value;
      }
      barrier();
      float slice[kPerInvocation][kPerInvocation];
      for (uint i = 0u; i < kPerInvocation; ++i)
        for (uint j = 0u; j < kPerInvocation; ++j) slice[i][j] = 0.0;
      for (uint k = 0u; k < kSliceK; ++k) {
        float a[kPerInvocation], b[kPerInvocation];
        for (uint i = 0u; i < kPerInvocation; ++i) a[i] = w_tile[k][local / kLanes + kLanes * i];
        for (uint j = 0u; j < kPerInvocation; ++j) b[j] = x_tile[k][local % kLanes + kLanes * j];
        for (uint i = 0u; i < kPerInvocation; ++i)
          for (uint j = 0u; j < kPerInvocation; ++j) slice[i][j] = fma(a[i], b[j], slice[i][j]);
      }
      for (uint i = 0u; i < kPerInvocation; ++i)
        for (uint j = 0u; j < kPerInvocation; ++j) sums[i][j] += slice[i][j];
      barrier();
    }
    for (uint i = 0u; i < kPerInvocation; ++i) {
      const uint channel = first_channel + local / kLanes + kLanes * i;
      if (channel >= p.out_channels) continue;
      const float bias_value = p.has_bias != 0u ? LOAD(bias, dtype_of(p.dtypes, 2u), p.base[2] + channel) : 0.0;
      for (uint j = 0u; j < kPerInvocation; ++j) {
        const uint position = first_position + local % kLanes + kLanes * j;
        if (position >= positions) continue;
        STORE(out_values, dtype_of(p.dtypes, 3u), p.base[3] + (n * p.out_channels + channel) * positions + position,
              sums[i][j] + bias_value);
      }
    }
  }
}
