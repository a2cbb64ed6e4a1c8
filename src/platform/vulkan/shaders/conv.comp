#version 450
#extension GL_GOOGLE_include_directive : require
// Direct convolution, 2-D as 3-D with depth 1: x [N, C_in, D, H, W], weight [C_out, C_in, kD, kH, kW],
// out [N, C_out, oD, oH, oW], all contiguous (f32, bf16 or f16), per-side padding, strides, dilation, an
// optional bias; one invocation per output element, f32 accumulation.
#include "dtypes.glsl"
layout(local_size_x = 64) in;
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

void main() {
  const uint out_spatial = p.out_size[0] * p.out_size[1] * p.out_size[2];
  const uint total = p.batch * p.out_channels * out_spatial;
  const uint in_spatial = p.in_size[0] * p.in_size[1] * p.in_size[2];
  const uint taps = p.kernel_size[0] * p.kernel_size[1] * p.kernel_size[2];
  const uint x_dtype = dtype_of(p.dtypes, 0u), w_dtype = dtype_of(p.dtypes, 1u), b_dtype = dtype_of(p.dtypes, 2u),
             out_dtype = dtype_of(p.dtypes, 3u);
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint index = gl_GlobalInvocationID.x; index < total; index += stride) {
    const uint ow = index % p.out_size[2], oh = (index / p.out_size[2]) % p.out_size[1];
    const uint od = (index / (p.out_size[2] * p.out_size[1])) % p.out_size[0];
    const uint co = (index / out_spatial) % p.out_channels, n = index / (out_spatial * p.out_channels);
    float sum = p.has_bias != 0u ? LOAD(bias, b_dtype, p.base[2] + co) : 0.0;
    for (uint ci = 0u; ci < p.in_channels; ++ci) {
      const uint x_channel = p.base[0] + (n * p.in_channels + ci) * in_spatial;
      const uint w_channel = p.base[1] + (co * p.in_channels + ci) * taps;
      for (uint kd = 0u; kd < p.kernel_size[0]; ++kd) {
        const int id = int(od * p.stride[0] + kd * p.dilation[0]) - int(p.pad_begin[0]);
        if (id < 0 || id >= int(p.in_size[0])) continue;
        for (uint kh = 0u; kh < p.kernel_size[1]; ++kh) {
          const int ih = int(oh * p.stride[1] + kh * p.dilation[1]) - int(p.pad_begin[1]);
          if (ih < 0 || ih >= int(p.in_size[1])) continue;
          for (uint kw = 0u; kw < p.kernel_size[2]; ++kw) {
            const int iw = int(ow * p.stride[2] + kw * p.dilation[2]) - int(p.pad_begin[2]);
            if (iw < 0 || iw >= int(p.in_size[2])) continue;
            const uint x_at = x_channel + (uint(id) * p.in_size[1] + uint(ih)) * p.in_size[2] + uint(iw);
            const uint w_at = w_channel + (kd * p.kernel_size[1] + kh) * p.kernel_size[2] + kw;
            sum += LOAD(x, x_dtype, x_at) * LOAD(weight, w_dtype, w_at);
          }
        }
      }
    }
    STORE(out_values, out_dtype, p.base[3] + index, sum);
  }
}
