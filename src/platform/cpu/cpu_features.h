#pragma once
// What the CPU x2v runs on offers, read once at start-up, and the cap X2V_CPU_ISA puts on it. The build
// targets baseline x86-64; every faster path is chosen here at run time:
// - oneDNN dispatches its own kernels (capped through dnnl::set_max_cpu_isa, onednn_context.cpp);
// - the hand-written intrinsics files enable their instructions per function (#pragma GCC target) and run
//   only when cpu_vector_level() allows them;
// - the plain loops of the cpu kernels are compiled twice by X2V_CPU_MULTIVERSION (below) and the copy for
//   this CPU runs.
#include <string>

namespace x2v::cpu {

// X2V_CPU_ISA, validated: the highest instruction set x2v may use (as ONEDNN_MAX_CPU_ISA does for oneDNN).
enum class IsaCap { none, sse41, avx2, avx512, avx512_bf16, amx };
// Throws Error naming the accepted values when X2V_CPU_ISA holds another.
IsaCap isa_cap();
// "" when unset, else the value as given.
std::string isa_cap_text();

// The vector level the plain loops run at: x86-64 (SSE2), or x86-64-v3 (AVX2, FMA, F16C) when the CPU has
// it and the cap allows it. AVX-512 adds little to these memory-bound loops; its gains are in oneDNN and in
// the AVX512-BF16 attention tiles, which check for it themselves.
enum class VectorLevel { x86_64 = 0, avx2 = 1 };
VectorLevel vector_level();
// "x86-64 (SSE2)" or "x86-64-v3 (AVX2+FMA+F16C)".
const char* vector_level_name(VectorLevel level);

// True when the CPU has every feature of `level` (ignoring the cap).
bool cpu_has(VectorLevel level);

}  // namespace x2v::cpu

// Defines `name(arguments...)`, which runs `body(arguments...)` compiled for the vector level of this CPU:
// once for baseline x86-64 and once for x86-64-v3. `body` must be declared [[gnu::always_inline]] (and so
// must helpers it relies on being vectorized), so that its loops are compiled inside each copy. An OpenMP
// parallel region must stay outside `body` (GCC outlines its body as a function of the default target).
#define X2V_CPU_MULTIVERSION(name, body)                                                      \
  template <typename... Arguments>                                                            \
  __attribute__((target("arch=x86-64-v3"))) void name##_x86_64_v3(Arguments&&... arguments) { \
    body(static_cast<Arguments&&>(arguments)...);                                             \
  }                                                                                           \
  template <typename... Arguments>                                                            \
  void name##_x86_64(Arguments&&... arguments) {                                              \
    body(static_cast<Arguments&&>(arguments)...);                                             \
  }                                                                                           \
  template <typename... Arguments>                                                            \
  void name(Arguments&&... arguments) {                                                       \
    if (::x2v::cpu::vector_level() == ::x2v::cpu::VectorLevel::avx2)                          \
      name##_x86_64_v3(static_cast<Arguments&&>(arguments)...);                               \
    else                                                                                      \
      name##_x86_64(static_cast<Arguments&&>(arguments)...);                                  \
  }
