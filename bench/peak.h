#pragma once
// oneDNN's own matmul throughput on this machine, the yardstick every benchmark ratio is taken against
// ("ratio_to_onednn_peak"): a plain dnnl::matmul at large square-ish shapes, best of a few runs,
// measured once per dtype per process.
#include <string>

#include "core/dtype.h"

// GFLOP/s of oneDNN's best matmul for `dtype` data (f32; bf16/f16: source and weights in that dtype,
// f32 destination). Where oneDNN has no such matmul on this CPU (bf16/f16 before AVX-512), this is the
// fastest matmul oneDNN can run on that data instead, the f32 one, and the label says so.
double onednn_matmul_peak_gflops(x2v::DType dtype);
// What the peak above measured, e.g. "oneDNN 2.6.3 f32 matmul (gemm:jit, avx2)" or
// "oneDNN 2.6.3 f32 matmul (gemm:jit, avx2; no bf16 matmul on this CPU)".
std::string onednn_matmul_peak_label(x2v::DType dtype);
