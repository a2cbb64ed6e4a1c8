#include "platform/cpu/cpu_features.h"

#include <cstdlib>
#include <map>

#include "core/error.h"

namespace x2v::cpu {

std::string isa_cap_text() {
  const char* value = std::getenv("X2V_CPU_ISA");
  return value == nullptr ? std::string() : std::string(value);
}

IsaCap isa_cap() {
  static const std::map<std::string, IsaCap> kCaps = {{"sse41", IsaCap::sse41},
                                                      {"avx2", IsaCap::avx2},
                                                      {"avx512", IsaCap::avx512},
                                                      {"avx512_bf16", IsaCap::avx512_bf16},
                                                      {"amx", IsaCap::amx}};
  const std::string text = isa_cap_text();
  if (text.empty()) return IsaCap::none;
  const auto found = kCaps.find(text);
  if (found == kCaps.end())
    throw Error("platform",
                concat("X2V_CPU_ISA='", text,
                       "' is not one of sse41, avx2, avx512, avx512_bf16, amx; unset it to use the "
                       "best this CPU has"));
  return found->second;
}

bool cpu_has(VectorLevel level) {
  if (level == VectorLevel::x86_64) return true;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") &&
         __builtin_cpu_supports("bmi2");
}

VectorLevel vector_level() {
  static const VectorLevel level = [] {
    IsaCap cap = IsaCap::none;
    try {
      cap = isa_cap();
    } catch (const Error&) {
      cap = IsaCap::none;  // reported by the cpu device when it starts (onednn_context.cpp)
    }
    if (cap == IsaCap::sse41 || !cpu_has(VectorLevel::avx2)) return VectorLevel::x86_64;
    return VectorLevel::avx2;
  }();
  return level;
}

const char* vector_level_name(VectorLevel level) {
  return level == VectorLevel::avx2 ? "x86-64-v3 (AVX2+FMA+F16C)" : "x86-64 (SSE2)";
}

}  // namespace x2v::cpu
