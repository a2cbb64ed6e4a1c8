// Compiled for baseline x86-64 (CMakeLists.txt), unlike the rest of the program, and run as the first
// constructor (priority 101, before every default-priority static initializer, some of which already use
// AVX), so that a CPU without the instructions the Release build targets hears why instead of dying on an
// illegal instruction.
#include <unistd.h>

#include <cstdio>

namespace {

__attribute__((constructor(101))) void refuse_a_cpu_this_build_cannot_run() {
#if defined(__x86_64__) && defined(X2V_REQUIRES_X86_64_V3)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || !__builtin_cpu_supports("f16c") ||
      !__builtin_cpu_supports("bmi2")) {
    std::fputs(
        "x2v: this CPU lacks AVX2/FMA/F16C/BMI2 (x86-64-v3), which this build of x2v targets; build it "
        "with -DCMAKE_BUILD_TYPE=RelWithDebInfo or Debug (baseline x86-64), or run it on a Haswell / Zen "
        "or newer CPU\n",
        stderr);
    _exit(2);
  }
#endif
}

}  // namespace
