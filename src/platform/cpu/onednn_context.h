#pragma once
// What the oneDNN-backed cpu kernels (mm, conv) share: one engine and one in-order stream per process,
// the probes that say which data types oneDNN computes natively on this CPU, and fast parallel dtype
// conversions (oneDNN 2.6 runs bf16/f16 matmul and conv only on AVX-512 machines, so on AVX2 the
// kernels convert to f32 around an f32 primitive).
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace x2v {

dnnl::engine& onednn_engine();
// Work submitted here runs on the calling thread (OpenMP inside); callers wait() before reading results.
dnnl::stream& onednn_stream();

// oneDNN's type for f32, bf16, f16; InternalError for anything else.
dnnl::memory::data_type onednn_data_type(DType dtype);

// True when oneDNN 2.6 can create a matmul with `dtype` source and weights (f32 destination) on this
// CPU. Probed once per dtype; f32 is always true.
bool onednn_matmul_is_native(DType dtype);
// True when oneDNN's s8 x s8 -> s32 matmul is exact on this CPU: its VNNI and AMX kernels sum int8 products
// in int32; without VNNI it multiplies with vpmaddubsw, whose 16-bit pair sums saturate. Probed once.
bool onednn_int8_matmul_is_exact();
// "avx2", "avx512_core_bf16", ... : the instruction set oneDNN dispatches to here.
std::string onednn_isa_name();

// Converts `count` contiguous elements of `source_dtype` (f32, bf16, f16) to f32, in parallel for
// large counts. bf16 -> f32 is exact.
void convert_to_f32(const void* source, DType source_dtype, float* target, int64_t count);
// Converts f32 to `target_dtype` (f32, bf16, f16), rounding to nearest even like core/dtype.h.
void convert_from_f32(const float* source, void* target, DType target_dtype, int64_t count);

// A contiguous f32 host scratch buffer of `count` elements from the cpu caching allocator, so that
// per-call temporaries cost nothing after the first call of a shape.
Tensor f32_scratch(int64_t count);

// Runs `build` and turns a dnnl::error into an InternalError that says what was being built.
template <class Build>
decltype(auto) onednn_build(const char* place, const std::string& what, Build&& build) {
  try {
    return build();
  } catch (const dnnl::error& error) {
    throw InternalError(place, concat("oneDNN could not create ", what, ": ", error.what()));
  }
}

}  // namespace x2v
