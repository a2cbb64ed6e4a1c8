#include "platform/cpu/onednn_context.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include <immintrin.h>

#include "platform/cpu/cpu_features.h"
#include "platform/platform.h"

namespace x2v {
namespace {

// Below this many elements a conversion is not worth waking the OpenMP team.
constexpr int64_t kParallelElements = int64_t{1} << 15;
// Elements per parallel work item: large enough to amortize scheduling, small enough to balance.
constexpr int64_t kChunkElements = int64_t{1} << 14;

// Runs body(begin, end) over [0, count) in chunks, in parallel when count is large.
template <class Body>
void for_chunks(int64_t count, Body&& body) {
  const int64_t chunks = (count + kChunkElements - 1) / kChunkElements;
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const int64_t begin = chunk * kChunkElements;
    body(begin, std::min(count, begin + kChunkElements));
  }
}

// Written branch-free so that the compiler vectorizes it; same rounding and NaN rule as float_to_bf16.
[[gnu::always_inline]] inline uint16_t round_to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (bits >> 16) | 0x0040u;
  return static_cast<uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

[[gnu::always_inline]] inline float widen_bf16(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

// F16C converts 8 halves at a time; these run only where vector_level() says the CPU has it.
__attribute__((target("avx,f16c"))) void f16_to_f32_f16c(const uint16_t* source, float* target, int64_t begin,
                                                         int64_t end) {
  int64_t i = begin;
  for (; i + 8 <= end; i += 8)
    _mm256_storeu_ps(target + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(source + i))));
  for (; i < end; ++i) target[i] = f16_to_float(source[i]);
}

__attribute__((target("avx,f16c"))) void f32_to_f16_f16c(const float* source, uint16_t* target, int64_t begin,
                                                         int64_t end) {
  int64_t i = begin;
  for (; i + 8 <= end; i += 8)
    _mm_storeu_si128(
        reinterpret_cast<__m128i*>(target + i),
        _mm256_cvtps_ph(_mm256_loadu_ps(source + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < end; ++i) target[i] = float_to_f16(source[i]);
}

void f16_to_f32_range(const uint16_t* source, float* target, int64_t begin, int64_t end) {
  if (cpu::vector_level() == cpu::VectorLevel::avx2) return f16_to_f32_f16c(source, target, begin, end);
  for (int64_t i = begin; i < end; ++i) target[i] = f16_to_float(source[i]);
}

void f32_to_f16_range(const float* source, uint16_t* target, int64_t begin, int64_t end) {
  if (cpu::vector_level() == cpu::VectorLevel::avx2) return f32_to_f16_f16c(source, target, begin, end);
  for (int64_t i = begin; i < end; ++i) target[i] = float_to_f16(source[i]);
}

[[gnu::always_inline]] inline void widen_bf16_range_body(const uint16_t* bits, float* target, int64_t begin,
                                                         int64_t end) {
  for (int64_t i = begin; i < end; ++i) target[i] = widen_bf16(bits[i]);
}
X2V_CPU_MULTIVERSION(widen_bf16_range, widen_bf16_range_body)

[[gnu::always_inline]] inline void round_to_bf16_range_body(const float* source, uint16_t* bits,
                                                            int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) bits[i] = round_to_bf16(source[i]);
}
X2V_CPU_MULTIVERSION(round_to_bf16_range, round_to_bf16_range_body)

// X2V_CPU_ISA caps the instruction set oneDNN may use (as ONEDNN_MAX_CPU_ISA does), so one machine can run
// every lower path; it must be set before oneDNN creates anything, hence here, with the engine.
void apply_cpu_isa_cap() {
  static const std::map<cpu::IsaCap, dnnl::cpu_isa> kLevels = {
      {cpu::IsaCap::sse41, dnnl::cpu_isa::sse41},
      {cpu::IsaCap::avx2, dnnl::cpu_isa::avx2},
      {cpu::IsaCap::avx512, dnnl::cpu_isa::avx512_core},
      {cpu::IsaCap::avx512_bf16, dnnl::cpu_isa::avx512_core_bf16},
      {cpu::IsaCap::amx, dnnl::cpu_isa::avx512_core_amx}};
  const cpu::IsaCap cap = cpu::isa_cap();  // throws for a value it does not know
  if (cap == cpu::IsaCap::none) return;
  try {
    dnnl::set_max_cpu_isa(kLevels.at(cap));
  } catch (const dnnl::error& error) {
    throw Error("platform", concat("X2V_CPU_ISA='", cpu::isa_cap_text(), "' cannot be applied (",
                                   error.what(), "); set it before anything runs, or unset it"));
  }
}

}  // namespace

dnnl::engine& onednn_engine() {
  static dnnl::engine engine = [] {
    apply_cpu_isa_cap();
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return engine;
}

dnnl::stream& onednn_stream() {
  static dnnl::stream stream(onednn_engine());
  return stream;
}

dnnl::memory::data_type onednn_data_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return dnnl::memory::data_type::f32;
    case DType::bf16:
      return dnnl::memory::data_type::bf16;
    case DType::f16:
      return dnnl::memory::data_type::f16;
    default:
      throw InternalError("onednn", concat("no oneDNN data type for ", dtype_name(dtype)));
  }
}

bool onednn_matmul_is_native(DType dtype) {
  if (dtype == DType::f32) return true;
  static std::mutex mutex;
  static std::map<DType, bool> known;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = known.find(dtype);
  if (found != known.end()) return found->second;
  using tag = dnnl::memory::format_tag;
  const auto type = onednn_data_type(dtype);
  const dnnl::memory::desc source({64, 64}, type, tag::ab), weights({64, 64}, type, tag::any),
      destination({64, 64}, dnnl::memory::data_type::f32, tag::ab);
  bool native = true;
  try {
    dnnl::matmul::primitive_desc probe(dnnl::matmul::desc(source, weights, destination), onednn_engine());
    // A reference implementation would be slower than converting to f32; count only optimized ones.
    native = std::string(probe.impl_info_str()).find("ref") == std::string::npos;
  } catch (const dnnl::error&) {
    native = false;
  }
  known[dtype] = native;
  return native;
}

bool onednn_int8_matmul_is_exact() {
  static const bool exact = [] {
    using tag = dnnl::memory::format_tag;
    using type = dnnl::memory::data_type;
    const dnnl::memory::desc source({64, 64}, type::s8, tag::ab), weights({64, 64}, type::s8, tag::any),
        destination({64, 64}, type::s32, tag::ab);
    try {
      const dnnl::matmul::primitive_desc probe(dnnl::matmul::desc(source, weights, destination),
                                               onednn_engine());
      const std::string implementation = probe.impl_info_str();
      return implementation.find("vnni") != std::string::npos ||
             implementation.find("amx") != std::string::npos;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return exact;
}

std::string onednn_isa_name() {
  onednn_engine();  // applies X2V_CPU_ISA first
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic:
      return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "unknown";
  }
}

void convert_to_f32(const void* source, DType source_dtype, float* target, int64_t count) {
  switch (source_dtype) {
    case DType::f32:
      for_chunks(count, [&](int64_t begin, int64_t end) {
        std::memcpy(target + begin, static_cast<const float*>(source) + begin, (end - begin) * sizeof(float));
      });
      return;
    case DType::bf16: {
      const uint16_t* bits = static_cast<const uint16_t*>(source);
      for_chunks(count, [&](int64_t begin, int64_t end) { widen_bf16_range(bits, target, begin, end); });
      return;
    }
    case DType::f16: {
      const uint16_t* bits = static_cast<const uint16_t*>(source);
      for_chunks(count, [&](int64_t begin, int64_t end) { f16_to_f32_range(bits, target, begin, end); });
      return;
    }
    default:
      throw InternalError("onednn", concat("convert_to_f32 from ", dtype_name(source_dtype)));
  }
}

void convert_from_f32(const float* source, void* target, DType target_dtype, int64_t count) {
  switch (target_dtype) {
    case DType::f32:
      for_chunks(count, [&](int64_t begin, int64_t end) {
        std::memcpy(static_cast<float*>(target) + begin, source + begin, (end - begin) * sizeof(float));
      });
      return;
    case DType::bf16: {
      uint16_t* bits = static_cast<uint16_t*>(target);
      for_chunks(count, [&](int64_t begin, int64_t end) { round_to_bf16_range(source, bits, begin, end); });
      return;
    }
    case DType::f16: {
      uint16_t* bits = static_cast<uint16_t*>(target);
      for_chunks(count, [&](int64_t begin, int64_t end) { f32_to_f16_range(source, bits, begin, end); });
      return;
    }
    default:
      throw InternalError("onednn", concat("convert_from_f32 to ", dtype_name(target_dtype)));
  }
}

Tensor f32_scratch(int64_t count) {
  return empty({std::max<int64_t>(count, 1)}, DType::f32, host_device());
}

}  // namespace x2v
