#include "peak.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "platform/cpu/onednn_context.h"

namespace {

using dnnl::memory;
using tag = memory::format_tag;

struct Peak {
  double gflops = 0.0;
  std::string label;
};

struct PeakShape {
  int64_t rows, inner, columns;
  int timed_runs;
};

// Large enough to reach the steady state of the GEMM (a DiT block's qkv and a square 4k problem).
// Best-of runs, so that a burst of other work on the machine does not lower the yardstick.
constexpr PeakShape kPeakShapes[] = {{2304, 1536, 1536, 12}, {4096, 4096, 4096, 4}};

// Fills `target` (any layout and dtype) with small varied values through a plain f32 staging buffer.
void fill(memory& target, int64_t rows, int64_t columns) {
  std::vector<float> values(rows * columns);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.01f * static_cast<float>(i % 97) - 0.48f;
  memory staging(memory::desc({rows, columns}, memory::data_type::f32, tag::ab), x2v::onednn_engine(),
                 values.data());
  dnnl::reorder(staging, target).execute(x2v::onednn_stream(), staging, target);
  x2v::onednn_stream().wait();
}

// Best GFLOP/s of a plain oneDNN matmul with `data_type` source and weights, f32 destination.
// Throws dnnl::error when oneDNN has no such matmul here.
double measure(memory::data_type data_type, std::string* implementation) {
  const dnnl::engine& engine = x2v::onednn_engine();
  dnnl::stream& stream = x2v::onednn_stream();
  double best = 0.0;
  for (const PeakShape& shape : kPeakShapes) {
    const memory::desc source_desc({shape.rows, shape.inner}, data_type, tag::ab);
    const memory::desc weights_desc({shape.inner, shape.columns}, data_type, tag::any);
    const memory::desc destination_desc({shape.rows, shape.columns}, memory::data_type::f32, tag::ab);
    const dnnl::matmul::primitive_desc descriptor(
        dnnl::matmul::desc(source_desc, weights_desc, destination_desc), engine);
    *implementation = descriptor.impl_info_str();
    memory source(descriptor.src_desc(), engine), weights(descriptor.weights_desc(), engine),
        destination(descriptor.dst_desc(), engine);
    fill(source, shape.rows, shape.inner);
    fill(weights, shape.inner, shape.columns);
    const dnnl::matmul matmul(descriptor);
    const std::unordered_map<int, memory> arguments{
        {DNNL_ARG_SRC, source}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, destination}};
    matmul.execute(stream, arguments);  // warm-up: page faults, JIT, caches
    stream.wait();
    const double flop = 2.0 * shape.rows * shape.inner * shape.columns;
    for (int run = 0; run < shape.timed_runs; ++run) {
      const auto start = std::chrono::steady_clock::now();
      matmul.execute(stream, arguments);
      stream.wait();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best = std::max(best, flop / seconds * 1e-9);
    }
  }
  return best;
}

const Peak& cached_peak(x2v::DType dtype);

Peak measure_peak(x2v::DType dtype) {
  const dnnl_version_t* version = dnnl::version();
  const std::string library =
      x2v::concat("oneDNN ", version->major, ".", version->minor, ".", version->patch);
  std::string implementation;
  Peak peak;
  try {
    peak.gflops = measure(x2v::onednn_data_type(dtype), &implementation);
    peak.label = x2v::concat(library, " ", x2v::dtype_name(dtype), " matmul (", implementation, ", ",
                             x2v::onednn_isa_name(), ")");
    if (dtype == x2v::DType::f32 || implementation.find("ref") == std::string::npos) return peak;
  } catch (const dnnl::error&) {
  }
  // No (fast) matmul for this dtype: the fastest oneDNN can do on that data is to compute in f32.
  const Peak& fallback = cached_peak(x2v::DType::f32);
  peak.gflops = fallback.gflops;
  peak.label = fallback.label.substr(0, fallback.label.size() - 1) + "; no " + x2v::dtype_name(dtype) +
               " matmul on this CPU, so f32 is the peak)";
  return peak;
}

const Peak& cached_peak(x2v::DType dtype) {
  static std::recursive_mutex mutex;  // measure_peak of bf16 may measure f32 through here
  static std::map<x2v::DType, Peak> peaks;
  std::lock_guard<std::recursive_mutex> lock(mutex);
  auto found = peaks.find(dtype);
  if (found == peaks.end()) found = peaks.emplace(dtype, measure_peak(dtype)).first;
  return found->second;
}

}  // namespace

double onednn_matmul_peak_gflops(x2v::DType dtype) {
  return cached_peak(dtype).gflops;
}

std::string onednn_matmul_peak_label(x2v::DType dtype) {
  return cached_peak(dtype).label;
}
