#version 450
// out[i] = value for every element of a contiguous f32 tensor.
layout(local_size_x = 64) in;
layout(std430, binding = 0) writeonly buffer Out { float out_values[]; };
layout(push_constant) uniform Push {
  uint base[6];  // first element of each binding (the bound range starts at an aligned offset)
  uint count;
  float value;
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride) out_values[p.base[0] + i] = p.value;
}
