#version 450
// out = x for f32 views of up to 6 dims with any strides (in elements); one invocation per element.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) buffer Out { float out_values[]; };
layout(push_constant) uniform Push {
  uint base[6];
  uint count;
  uint ndim;
  uint shape[6];
  uint x_strides[6];
  uint out_strides[6];
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) {
    uint rest = i, x_offset = 0u, out_offset = 0u;
    for (int dim = int(p.ndim) - 1; dim >= 0; --dim) {
      const uint index = rest % p.shape[dim];
      rest /= p.shape[dim];
      x_offset += index * p.x_strides[dim];
      out_offset += index * p.out_strides[dim];
    }
    out_values[p.base[1] + out_offset] = x[p.base[0] + x_offset];
  }
}
