#pragma once
// Element types and exact scalar conversions. Low-precision floats are stored as raw bits
// (bf16, f16: uint16_t; f8: uint8_t) so that no compiler extension is needed.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace x2v {

enum class DType : uint8_t { f32, bf16, f16, f8_e4m3, f8_e5m2, i8, i32, u8 };

constexpr DType kAllDTypes[] = {DType::f32,     DType::bf16, DType::f16, DType::f8_e4m3,
                                DType::f8_e5m2, DType::i8,   DType::i32, DType::u8};

size_t dtype_size(DType dtype);
// x2v's own name: "f32", "bf16", "f16", "f8_e4m3", "f8_e5m2", "i8", "i32", "u8".
const char* dtype_name(DType dtype);
bool is_floating(DType dtype);
// Parses x2v's names and the common aliases ("float32", "bfloat16", "BF16", "F8_E4M3", ...).
// Returns false for anything else.
bool parse_dtype(const std::string& text, DType* dtype);

// Scalar conversions. Float -> narrow float rounds to nearest, ties to even.
uint16_t float_to_bf16(float value);
float bf16_to_float(uint16_t bits);
uint16_t float_to_f16(float value);
float f16_to_float(uint16_t bits);
// float8_e4m3fn: no infinities, 0x7f/0xff are NaN, max 448. Saturating: |x| > 448 (and inf) -> +-448.
uint8_t float_to_f8_e4m3(float value);
float f8_e4m3_to_float(uint8_t bits);
// float8_e5m2: IEEE-like with infinities, max 57344; overflow rounds to infinity as in torch.
uint8_t float_to_f8_e5m2(float value);
float f8_e5m2_to_float(uint8_t bits);

// Converts `count` contiguous elements between any two dtypes (through float for floating types;
// integer targets round to nearest and saturate).
void convert_elements(const void* source, DType source_dtype, void* target, DType target_dtype, size_t count);

inline uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}
inline float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Maps C++ element types to dtypes for typed access (Tensor::data<T>()).
template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct DTypeOf<int8_t> {
  static constexpr DType value = DType::i8;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::i32;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::u8;
};

}  // namespace x2v
