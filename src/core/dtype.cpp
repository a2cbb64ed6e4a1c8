#include "core/dtype.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace x2v {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32:
    case DType::i32:
      return 4;
    case DType::bf16:
    case DType::f16:
      return 2;
    case DType::f8_e4m3:
    case DType::f8_e5m2:
    case DType::i8:
    case DType::u8:
      return 1;
  }
  throw InternalError("dtype", "unknown dtype value");
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "f32";
    case DType::bf16:
      return "bf16";
    case DType::f16:
      return "f16";
    case DType::f8_e4m3:
      return "f8_e4m3";
    case DType::f8_e5m2:
      return "f8_e5m2";
    case DType::i8:
      return "i8";
    case DType::i32:
      return "i32";
    case DType::u8:
      return "u8";
  }
  return "?";
}

bool is_floating(DType dtype) {
  return dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16 || dtype == DType::f8_e4m3 ||
         dtype == DType::f8_e5m2;
}

bool parse_dtype(const std::string& text, DType* dtype) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  struct Alias {
    const char* name;
    DType dtype;
  };
  static const Alias aliases[] = {
      {"f32", DType::f32},     {"fp32", DType::f32},        {"float32", DType::f32},
      {"float", DType::f32},   {"bf16", DType::bf16},       {"bfloat16", DType::bf16},
      {"f16", DType::f16},     {"fp16", DType::f16},        {"float16", DType::f16},
      {"half", DType::f16},    {"f8_e4m3", DType::f8_e4m3}, {"float8_e4m3fn", DType::f8_e4m3},
      {"fp8", DType::f8_e4m3}, {"f8_e5m2", DType::f8_e5m2}, {"float8_e5m2", DType::f8_e5m2},
      {"i8", DType::i8},       {"int8", DType::i8},         {"i32", DType::i32},
      {"int32", DType::i32},   {"u8", DType::u8},           {"uint8", DType::u8}};
  for (const Alias& alias : aliases) {
    if (lower == alias.name) {
      *dtype = alias.dtype;
      return true;
    }
  }
  return false;
}

uint16_t float_to_bf16(float value) {
  uint32_t bits = float_bits(value);
  if (std::isnan(value)) return static_cast<uint16_t>((bits >> 16) | 0x0040);  // keep it a quiet NaN
  const uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float bf16_to_float(uint16_t bits) {
  return bits_float(static_cast<uint32_t>(bits) << 16);
}

namespace {

// Rounds |value| (finite, non-negative) to a float format with `mantissa_bits` stored mantissa bits and
// exponent bias `bias`, nearest-even, and returns the unsigned code (exponent field << mantissa_bits |
// mantissa). The caller handles overflow by inspecting the exponent field.
uint32_t round_to_small_float(float magnitude, int mantissa_bits, int bias) {
  const int min_normal_exponent = 1 - bias;
  // Below the smallest normal the format is uniformly spaced by 2^(min_normal_exponent - mantissa_bits);
  // scaling by a power of two is exact, so nearbyint rounds exactly (the default mode is nearest-even).
  if (magnitude < std::ldexp(1.0f, min_normal_exponent)) {
    return static_cast<uint32_t>(std::nearbyint(std::ldexp(magnitude, mantissa_bits - min_normal_exponent)));
  }
  int exponent;
  const float fraction =
      std::frexp(magnitude, &exponent);  // magnitude = fraction * 2^exponent, fraction in [0.5,1)
  exponent -= 1;                         // magnitude = (2*fraction) * 2^exponent
  uint32_t mantissa =
      static_cast<uint32_t>(std::nearbyint(std::ldexp(2.0f * fraction - 1.0f, mantissa_bits)));
  if (mantissa == (1u << mantissa_bits)) {
    mantissa = 0;
    exponent += 1;
  }
  return (static_cast<uint32_t>(exponent + bias) << mantissa_bits) | mantissa;
}

float small_float_to_float(uint32_t code, int mantissa_bits, int bias) {
  const uint32_t exponent_field = code >> mantissa_bits;
  const uint32_t mantissa = code & ((1u << mantissa_bits) - 1);
  if (exponent_field == 0) return std::ldexp(static_cast<float>(mantissa), 1 - bias - mantissa_bits);
  return std::ldexp(1.0f + std::ldexp(static_cast<float>(mantissa), -mantissa_bits),
                    static_cast<int>(exponent_field) - bias);
}

}  // namespace

uint16_t float_to_f16(float value) {
  const uint16_t sign = (float_bits(value) >> 16) & 0x8000;
  if (std::isnan(value)) return sign | 0x7e00;
  const float magnitude = std::fabs(value);
  if (std::isinf(magnitude)) return sign | 0x7c00;
  const uint32_t code = round_to_small_float(magnitude, 10, 15);
  if ((code >> 10) >= 31) return sign | 0x7c00;  // overflow -> infinity
  return static_cast<uint16_t>(sign | code);
}

float f16_to_float(uint16_t bits) {
  const float sign = (bits & 0x8000) ? -1.0f : 1.0f;
  const uint32_t exponent_field = (bits >> 10) & 0x1f;
  if (exponent_field == 31) {
    return (bits & 0x3ff) ? std::numeric_limits<float>::quiet_NaN()
                          : sign * std::numeric_limits<float>::infinity();
  }
  return sign * small_float_to_float(bits & 0x7fff, 10, 15);
}

uint8_t float_to_f8_e4m3(float value) {
  const uint8_t sign = (float_bits(value) >> 24) & 0x80;
  if (std::isnan(value)) return sign | 0x7f;
  const float magnitude = std::fabs(value);
  if (magnitude >= 448.0f) return sign | 0x7e;  // saturate, infinities included
  const uint32_t code = round_to_small_float(magnitude, 3, 7);
  if (code >= 0x7f) return sign | 0x7e;  // 0x7f would be NaN
  return static_cast<uint8_t>(sign | code);
}

float f8_e4m3_to_float(uint8_t bits) {
  if ((bits & 0x7f) == 0x7f) return std::numeric_limits<float>::quiet_NaN();
  const float sign = (bits & 0x80) ? -1.0f : 1.0f;
  return sign * small_float_to_float(bits & 0x7f, 3, 7);
}

uint8_t float_to_f8_e5m2(float value) {
  const uint8_t sign = (float_bits(value) >> 24) & 0x80;
  if (std::isnan(value)) return sign | 0x7f;
  const float magnitude = std::fabs(value);
  if (std::isinf(magnitude)) return sign | 0x7c;
  const uint32_t code = round_to_small_float(magnitude, 2, 15);
  if ((code >> 2) >= 31) return sign | 0x7c;  // overflow -> infinity
  return static_cast<uint8_t>(sign | code);
}

float f8_e5m2_to_float(uint8_t bits) {
  const float sign = (bits & 0x80) ? -1.0f : 1.0f;
  const uint32_t exponent_field = (bits >> 2) & 0x1f;
  if (exponent_field == 31) {
    return (bits & 0x3) ? std::numeric_limits<float>::quiet_NaN()
                        : sign * std::numeric_limits<float>::infinity();
  }
  return sign * small_float_to_float(bits & 0x7f, 2, 15);
}

namespace {

float load_as_float(const void* source, DType dtype, size_t index) {
  switch (dtype) {
    case DType::f32:
      return static_cast<const float*>(source)[index];
    case DType::bf16:
      return bf16_to_float(static_cast<const uint16_t*>(source)[index]);
    case DType::f16:
      return f16_to_float(static_cast<const uint16_t*>(source)[index]);
    case DType::f8_e4m3:
      return f8_e4m3_to_float(static_cast<const uint8_t*>(source)[index]);
    case DType::f8_e5m2:
      return f8_e5m2_to_float(static_cast<const uint8_t*>(source)[index]);
    case DType::i8:
      return static_cast<const int8_t*>(source)[index];
    case DType::i32:
      return static_cast<float>(static_cast<const int32_t*>(source)[index]);
    case DType::u8:
      return static_cast<const uint8_t*>(source)[index];
  }
  return 0.0f;
}

template <class Integer>
Integer saturate_integer(float value) {
  if (std::isnan(value)) return 0;
  const float rounded = std::nearbyint(value);
  const float low = static_cast<float>(std::numeric_limits<Integer>::min());
  const float high = static_cast<float>(std::numeric_limits<Integer>::max());
  if (rounded <= low) return std::numeric_limits<Integer>::min();
  if (rounded >= high) return std::numeric_limits<Integer>::max();
  return static_cast<Integer>(rounded);
}

void store_from_float(void* target, DType dtype, size_t index, float value) {
  switch (dtype) {
    case DType::f32:
      static_cast<float*>(target)[index] = value;
      break;
    case DType::bf16:
      static_cast<uint16_t*>(target)[index] = float_to_bf16(value);
      break;
    case DType::f16:
      static_cast<uint16_t*>(target)[index] = float_to_f16(value);
      break;
    case DType::f8_e4m3:
      static_cast<uint8_t*>(target)[index] = float_to_f8_e4m3(value);
      break;
    case DType::f8_e5m2:
      static_cast<uint8_t*>(target)[index] = float_to_f8_e5m2(value);
      break;
    case DType::i8:
      static_cast<int8_t*>(target)[index] = saturate_integer<int8_t>(value);
      break;
    case DType::i32:
      static_cast<int32_t*>(target)[index] = saturate_integer<int32_t>(value);
      break;
    case DType::u8:
      static_cast<uint8_t*>(target)[index] = saturate_integer<uint8_t>(value);
      break;
  }
}

}  // namespace

void convert_elements(const void* source, DType source_dtype, void* target, DType target_dtype,
                      size_t count) {
  if (count == 0) return;  // an empty tensor's data may be null, which memcpy must not get
  if (source_dtype == target_dtype) {
    std::memcpy(target, source, count * dtype_size(source_dtype));
    return;
  }
  if (source_dtype == DType::i32 && target_dtype != DType::f32) {
    // i32 -> narrow integers without a float round trip, which would lose precision above 2^24.
    const int32_t* values = static_cast<const int32_t*>(source);
    if (target_dtype == DType::i8 || target_dtype == DType::u8) {
      const int32_t low = target_dtype == DType::i8 ? -128 : 0, high = target_dtype == DType::i8 ? 127 : 255;
      for (size_t i = 0; i < count; ++i) {
        const int32_t clamped = std::clamp(values[i], low, high);
        if (target_dtype == DType::i8)
          static_cast<int8_t*>(target)[i] = static_cast<int8_t>(clamped);
        else
          static_cast<uint8_t*>(target)[i] = static_cast<uint8_t>(clamped);
      }
      return;
    }
  }
  if (source_dtype == DType::i32 && target_dtype == DType::f32) {
    for (size_t i = 0; i < count; ++i)
      static_cast<float*>(target)[i] = static_cast<float>(static_cast<const int32_t*>(source)[i]);
    return;
  }
  if (source_dtype == DType::f32 && target_dtype == DType::bf16) {
    const float* values = static_cast<const float*>(source);
    uint16_t* out = static_cast<uint16_t*>(target);
    for (size_t i = 0; i < count; ++i) out[i] = float_to_bf16(values[i]);
    return;
  }
  if (source_dtype == DType::bf16 && target_dtype == DType::f32) {
    const uint16_t* values = static_cast<const uint16_t*>(source);
    float* out = static_cast<float*>(target);
    for (size_t i = 0; i < count; ++i) out[i] = bf16_to_float(values[i]);
    return;
  }
  for (size_t i = 0; i < count; ++i)
    store_from_float(target, target_dtype, i, load_as_float(source, source_dtype, i));
}

}  // namespace x2v
