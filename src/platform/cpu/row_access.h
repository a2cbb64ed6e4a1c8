#pragma once
// Row loads and stores between activation dtypes (f32, bf16, f16) and f32 working buffers, shared by the
// cpu kernels that compute in f32.
#include <cstdint>

#include <initializer_list>

#include "core/dtype.h"
#include "core/tensor.h"

namespace x2v::cpu {

// The cpu kernels read their tensors directly: one of another device's memory is an error, not a fault.
inline void require_host_memory(const char* kernel, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* tensor : tensors)
    if (tensor->defined() && !tensor->is_host_accessible())
      throw Error(kernel, concat(kernel, " needs host memory; ", tensor->describe(),
                                 " is on a device the cpu cannot read (move it with ops::to_device)"));
}

[[gnu::always_inline]] inline void load_row(const void* source, DType dtype, int64_t count, float* target) {
  switch (dtype) {
    case DType::f32: {
      const float* values = static_cast<const float*>(source);
      for (int64_t i = 0; i < count; ++i) target[i] = values[i];
      return;
    }
    case DType::bf16: {
      const uint16_t* values = static_cast<const uint16_t*>(source);
      for (int64_t i = 0; i < count; ++i) target[i] = bits_float(static_cast<uint32_t>(values[i]) << 16);
      return;
    }
    default:
      convert_elements(source, dtype, target, DType::f32, static_cast<size_t>(count));
  }
}

[[gnu::always_inline]] inline uint16_t round_to_bf16(float value) {
  const uint32_t bits = float_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

[[gnu::always_inline]] inline void store_row(const float* source, int64_t count, void* target, DType dtype) {
  switch (dtype) {
    case DType::f32: {
      float* values = static_cast<float*>(target);
      for (int64_t i = 0; i < count; ++i) values[i] = source[i];
      return;
    }
    case DType::bf16: {
      uint16_t* values = static_cast<uint16_t*>(target);
      for (int64_t i = 0; i < count; ++i) values[i] = round_to_bf16(source[i]);
      return;
    }
    default:
      convert_elements(source, DType::f32, target, dtype, static_cast<size_t>(count));
  }
}

}  // namespace x2v::cpu
