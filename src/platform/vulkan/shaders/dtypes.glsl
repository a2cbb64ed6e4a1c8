// Tensors of f32, bf16 or f16 in one shader: each binding is declared three times over the same buffer (as
// 32-bit floats, as 16-bit words, as halves), and a dtype code picks the view: 0 f32, 1 bf16, 2 f16. bf16 is
// widened by a shift and stored rounded to nearest even, as the cpu does. Needs storageBuffer16BitAccess.
#extension GL_EXT_shader_16bit_storage : require

#define DTYPE_F32 0u
#define DTYPE_BF16 1u
#define DTYPE_F16 2u

#define INPUT(index, name)                                                                      \
  layout(std430, binding = index) readonly buffer name##_f32_block { float name##_f32[]; };     \
  layout(std430, binding = index) readonly buffer name##_u16_block { uint16_t name##_u16[]; };  \
  layout(std430, binding = index) readonly buffer name##_f16_block { float16_t name##_f16[]; }

#define OUTPUT(index, name)                                                           \
  layout(std430, binding = index) buffer name##_f32_block { float name##_f32[]; };    \
  layout(std430, binding = index) buffer name##_u16_block { uint16_t name##_u16[]; }; \
  layout(std430, binding = index) buffer name##_f16_block { float16_t name##_f16[]; }

#define LOAD(name, dtype, at)                                                                           \
  ((dtype) == DTYPE_F32 ? name##_f32[at]                                                                 \
                        : (dtype) == DTYPE_BF16 ? uintBitsToFloat(uint(name##_u16[at]) << 16) : float(name##_f16[at]))

#define STORE(name, dtype, at, value)                         \
  {                                                           \
    const float stored_value = (value);                       \
    if ((dtype) == DTYPE_F32)                                 \
      name##_f32[at] = stored_value;                          \
    else if ((dtype) == DTYPE_BF16)                           \
      name##_u16[at] = uint16_t(bf16_bits(stored_value));     \
    else                                                      \
      name##_f16[at] = float16_t(stored_value);               \
  }

uint bf16_bits(float value) {
  const uint bits = floatBitsToUint(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (bits >> 16) | 0x40u;  // quiet NaN
  return (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
}

// The dtype code of binding `index` from the packed codes (2 bits each).
uint dtype_of(uint packed, uint index) {
  return (packed >> (2u * index)) & 3u;
}
