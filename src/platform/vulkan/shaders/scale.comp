#version 450
// out = x * multiplier + offset over contiguous f32 tensors (out may be x).
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) buffer Out { float out_values[]; };
layout(push_constant) uniform Push {
  uint base[4];
  uint count;
  float multiplier;
  float offset;
} p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.count; i += stride)
    out_values[p.base[1] + i] = x[p.base[0] + i] * p.multiplier + p.offset;
}
