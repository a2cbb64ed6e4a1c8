// Every attention kernel of every device under test against a naive fp64 attention computed here from the
// (dtype-rounded) inputs: many shapes, token-major strided views, a batch with key lengths, large
// logits, an additive logit bias (T5), and a long sequence whose working memory must stay linear in its
// length.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "platform/platform.h"
#include "support/test_device.h"
#include "support/tolerances.h"

namespace x2v {
namespace {

using Tolerance = testing::ElementTolerance;

Tolerance tolerance_for(DType dtype) {
  return testing::attention_tolerance(dtype);
}

constexpr DType kDTypes[] = {DType::f32, DType::bf16, DType::f16};
constexpr float kOutputSentinel = 7.0f;  // fills the gaps between output rows: must survive the kernel

using testing::devices_under_test;
using testing::on_device;
using testing::on_host;

// Every native kernel, and of the host fallbacks the default (see conformance.h).
std::vector<std::string> attention_kernels(Device& device) {
  std::vector<std::string> names;
  const auto& registry = device.kernels().attention;
  for (const std::string& name : registry.names())
    if (!registry.traits(name).host_fallback || name == registry.default_name()) names.push_back(name);
  return names;
}

// The same view of a copy of `view`'s whole buffer on `device` (gaps and strides kept).
Tensor same_view_on(const Tensor& view, Device& device) {
  const int64_t elements = static_cast<int64_t>(view.storage()->bytes / view.element_size());
  const Tensor whole = on_device(Tensor(view.storage(), {elements}, view.dtype(), 0), device);
  return whole.as_strided(view.shape(), view.strides(), view.offset());
}

std::vector<float> random_values(int64_t count, uint32_t seed, float magnitude) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-magnitude, magnitude);
  std::vector<float> values(count);
  for (float& value : values) value = uniform(generator);
  return values;
}

// A [batch?, heads, len, dim] view of a token-major buffer [batch?, len, heads * dim + gap], the way
// attention reads q/k/v straight out of a projection's output. `gap` elements after each token are left
// over (filled with `gap_value`).
Tensor token_major(const std::vector<float>& logical, bool batched, int64_t batch, int64_t heads, int64_t len,
                   int64_t dim, DType dtype, int64_t gap = 0, float gap_value = 0.0f) {
  const int64_t row = heads * dim + gap;
  std::vector<float> buffer(batch * len * row, gap_value);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t t = 0; t < len; ++t)
        for (int64_t d = 0; d < dim; ++d)
          buffer[(b * len + t) * row + h * dim + d] = logical[((b * heads + h) * len + t) * dim + d];
  const Tensor storage = Tensor::host_from(buffer, {batch * len * row}, dtype);
  if (batched) return storage.as_strided({batch, heads, len, dim}, {len * row, dim, row, 1}, 0);
  return storage.as_strided({heads, len, dim}, {dim, row, 1}, 0);
}

struct Problem {
  int64_t batch = 1, heads = 1, query_len = 1, key_len = 1, dim = 64;
  bool batched = false;
  float scale = 0.0f;
  float magnitude = 1.0f;
  std::vector<int64_t> key_lengths;
  bool bias = false;  // an additive f32 [heads, q_len, kv_len] logit bias
  uint32_t seed = 1;
};

std::string describe(const Problem& p) {
  return concat("batch ", p.batch, " heads ", p.heads, " q_len ", p.query_len, " kv_len ", p.key_len, " dim ",
                p.dim, " scale ", p.scale, " magnitude ", p.magnitude,
                p.key_lengths.empty() ? "" : " key_lengths", p.bias ? " bias" : "");
}

// Dot product in double with four independent sums (not bound by the latency of one chain of adds).
double dot(const float* a, const float* b, int64_t count) {
  double partial[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= count; i += 4)
    for (int lane = 0; lane < 4; ++lane) partial[lane] += static_cast<double>(a[i + lane]) * b[i + lane];
  for (; i < count; ++i) partial[0] += static_cast<double>(a[i]) * b[i];
  return (partial[0] + partial[1]) + (partial[2] + partial[3]);
}

// Naive attention in double over logical [batch, heads, len, dim] values; `bias` [heads, q_len, kv_len]
// (may be empty) is added to the scaled logits of every batch entry.
std::vector<double> reference_attention(const Problem& p, const std::vector<float>& q,
                                        const std::vector<float>& k, const std::vector<float>& v,
                                        const std::vector<float>& bias = {}) {
  const double scale = p.scale != 0.0f ? p.scale : 1.0 / std::sqrt(static_cast<double>(p.dim));
  std::vector<double> out(p.batch * p.heads * p.query_len * p.dim);
  std::vector<double> weights(p.key_len);
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t keys = p.key_lengths.empty() ? p.key_len : p.key_lengths[b];
    for (int64_t h = 0; h < p.heads; ++h) {
      const float* k_head = &k[(b * p.heads + h) * p.key_len * p.dim];
      const float* v_head = &v[(b * p.heads + h) * p.key_len * p.dim];
      for (int64_t i = 0; i < p.query_len; ++i) {
        const float* query = &q[((b * p.heads + h) * p.query_len + i) * p.dim];
        double max_score = -INFINITY;
        for (int64_t j = 0; j < keys; ++j) {
          weights[j] = dot(query, &k_head[j * p.dim], p.dim) * scale;
          if (!bias.empty()) weights[j] += bias[(h * p.query_len + i) * p.key_len + j];
          max_score = std::max(max_score, weights[j]);
        }
        double total = 0;
        for (int64_t j = 0; j < keys; ++j) total += (weights[j] = std::exp(weights[j] - max_score));
        double* target = &out[((b * p.heads + h) * p.query_len + i) * p.dim];
        for (int64_t j = 0; j < keys; ++j)
          for (int64_t d = 0; d < p.dim; ++d) target[d] += weights[j] / total * v_head[j * p.dim + d];
      }
    }
  }
  return out;
}

// The inputs of one problem in one dtype, the expected output and a gapped token-major output view.
struct Case {
  Tensor q, k, v, out;
  Tensor bias;  // undefined unless the problem has one
  std::vector<double> expected;
  Tensor out_storage_view;  // the whole output buffer, gaps included
};

Case make_case(const Problem& p, DType dtype, DType out_dtype) {
  const int64_t q_count = p.batch * p.heads * p.query_len * p.dim;
  const int64_t kv_count = p.batch * p.heads * p.key_len * p.dim;
  std::vector<float> q = random_values(q_count, p.seed, p.magnitude);
  std::vector<float> k = random_values(kv_count, p.seed + 1, p.magnitude);
  std::vector<float> v = random_values(kv_count, p.seed + 2, 1.0f);
  // Masked keys hold huge values: a kernel that reads them is far off.
  for (int64_t b = 0; b < static_cast<int64_t>(p.key_lengths.size()); ++b)
    for (int64_t h = 0; h < p.heads; ++h)
      for (int64_t j = p.key_lengths[b]; j < p.key_len; ++j)
        for (int64_t d = 0; d < p.dim; ++d) {
          const int64_t index = ((b * p.heads + h) * p.key_len + j) * p.dim + d;
          k[index] = 3000.0f;
          v[index] = -5000.0f;
        }
  Case result;
  result.q = token_major(q, p.batched, p.batch, p.heads, p.query_len, p.dim, dtype);
  result.k = token_major(k, p.batched, p.batch, p.heads, p.key_len, p.dim, dtype);
  result.v = token_major(v, p.batched, p.batch, p.heads, p.key_len, p.dim, dtype);
  // A bias of a few units moves the softmax a lot (the batch entries share it).
  std::vector<float> bias;
  if (p.bias) {
    bias = random_values(p.heads * p.query_len * p.key_len, p.seed + 3, 3.0f);
    result.bias = Tensor::host_from(bias, {p.heads, p.query_len, p.key_len});
  }
  // The reference sees exactly the values the kernel sees (after rounding to dtype).
  result.expected =
      reference_attention(p, result.q.to_floats(), result.k.to_floats(), result.v.to_floats(), bias);
  result.out = token_major(std::vector<float>(q_count, 0.0f), p.batched, p.batch, p.heads, p.query_len, p.dim,
                           out_dtype, /*gap=*/3, kOutputSentinel);
  const int64_t out_buffer_elements =
      static_cast<int64_t>(result.out.storage()->bytes / dtype_size(out_dtype));
  result.out_storage_view = Tensor(result.out.storage(), {out_buffer_elements}, out_dtype, 0);
  return result;
}

// Checks the output against the reference (worst error in units of the tolerance must be <= 1) and that
// every gap between output rows still holds the sentinel.
void expect_matches(const Case& c, DType out_dtype, const std::string& what) {
  const std::vector<float> actual = c.out.to_floats();
  ASSERT_EQ(actual.size(), c.expected.size()) << what;
  const Tolerance tolerance = tolerance_for(out_dtype);
  double worst = 0;
  size_t worst_index = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double allowed = tolerance.absolute + tolerance.relative * std::fabs(c.expected[i]);
    const double error = std::isfinite(actual[i]) ? std::fabs(actual[i] - c.expected[i]) / allowed : INFINITY;
    if (!(error <= worst)) {
      worst = error;
      worst_index = i;
    }
  }
  EXPECT_LE(worst, 1.0) << what << ": element " << worst_index << " is " << actual[worst_index]
                        << ", expected " << c.expected[worst_index];
  const std::vector<float> whole = c.out_storage_view.to_floats();
  const int64_t untouched = std::count(whole.begin(), whole.end(), kOutputSentinel);
  EXPECT_EQ(untouched, static_cast<int64_t>(whole.size() - actual.size()))
      << what << ": wrote outside the output view";
}

// Runs kernel `name` of `device` on the case; q/k/v/out keep their token-major layouts on the device and the
// whole output buffer (gaps included) comes back into c.out's.
void run_kernel(Device& device, const std::string& name, const Problem& p, Case& c) {
  auto kernel = device.kernels().attention.create(name);
  kernel->load(AttentionOptions{p.scale});
  AttentionCall call;
  call.key_lengths = p.key_lengths;
  call.bias = on_device(c.bias, device);
  Tensor out = same_view_on(c.out, device);
  kernel->apply(same_view_on(c.q, device), same_view_on(c.k, device), same_view_on(c.v, device), out, call);
  if (out.shares_storage_with(c.out)) return;
  const int64_t elements = static_cast<int64_t>(c.out.storage()->bytes / c.out.element_size());
  const Tensor back = on_host(Tensor(out.storage(), {elements}, out.dtype(), 0));
  std::memcpy(c.out.storage()->data, back.raw_data(), c.out.storage()->bytes);
}

void check_problem(const Problem& p, DType dtype) {
  for (Device* device : devices_under_test())
    for (const std::string& name : attention_kernels(*device)) {
      Case c = make_case(p, dtype, dtype);
      const std::string what = concat(device->name(), " ", name, " ", dtype_name(dtype), " ", describe(p));
      run_kernel(*device, name, p, c);
      expect_matches(c, dtype, what);
    }
}

TEST(AttentionConformance, LightX2VNamesSelectTheDefault) {
  for (Device* device : devices_under_test()) {
    const auto& registry = device->kernels().attention;
    EXPECT_FALSE(registry.default_name().empty()) << device->name();
    for (const char* name : {"flash_attn2", "flash_attn3", "sage_attn2", "torch_sdpa"})
      EXPECT_EQ(registry.resolve(name), registry.default_name()) << device->name() << " " << name;
  }
}

// The shape grid: every q_len x kv_len x dim, heads 1..3 in turn, each dtype.
TEST(AttentionConformance, ShapeGridOnTokenMajorViews) {
  int index = 0;
  for (int64_t query_len : {1, 17, 300})
    for (int64_t key_len : {1, 5, 512})
      for (int64_t dim : {40, 64, 128})
        for (DType dtype : kDTypes) {
          Problem p;
          p.heads = 1 + index % 3;
          p.query_len = query_len;
          p.key_len = key_len;
          p.dim = dim;
          p.seed = 100 + index++;
          check_problem(p, dtype);
        }
}

TEST(AttentionConformance, BatchWithKeyLengths) {
  for (DType dtype : kDTypes)
    for (int64_t dim : {40, 128}) {
      Problem p;
      p.batched = true;
      p.batch = 3;
      p.heads = 2;
      p.query_len = 70;
      p.key_len = 600;
      p.dim = dim;
      p.key_lengths = {600, 257, 1};
      check_problem(p, dtype);
    }
}

// Large logits with an explicit scale: the row max moves between key tiles, so the accumulator must be
// rescaled correctly (a missing rescale or a wrong running sum is far off here).
TEST(AttentionConformance, LargeLogitsExplicitScale) {
  for (DType dtype : kDTypes) {
    Problem p;
    p.heads = 2;
    p.query_len = 50;
    p.key_len = 1100;
    p.dim = 64;
    p.scale = 0.5f;
    p.magnitude = 2.0f;
    check_problem(p, dtype);
  }
}

// Head dims off the fast paths: below one vector, not a multiple of 8 or 16, past 128.
TEST(AttentionConformance, UnusualHeadDims) {
  for (int64_t dim : {1, 7, 33, 100, 256}) {
    Problem p;
    p.heads = 2;
    p.query_len = 13;
    p.key_len = 300;
    p.dim = dim;
    check_problem(p, DType::f32);
  }
}

// Many keys, few queries: the shape of cross-attention on long contexts (on the cpu, past 8 MiB of packed
// keys/values per head, several query tiles walk the keys together: 200 queries make one full group of
// 4 x 48 rows and a partial one). Each device's default kernel; the naive reference takes seconds here.
TEST(AttentionConformance, ManyKeysFewQueries) {
  Problem p;
  p.query_len = 200;
  p.key_len = 8500;
  p.dim = 128;
  for (Device* device : devices_under_test()) {
    Case c = make_case(p, DType::bf16, DType::bf16);
    const std::string name = device->kernels().attention.default_name();
    run_kernel(*device, name, p, c);
    expect_matches(c, DType::bf16, concat(device->name(), " ", name, " bf16 ", describe(p)));
  }
}

// T5's attention: unit scale (no 1/sqrt(d)), a position bias on the logits and padded keys masked; odd
// lengths and several key tiles. Also without the bias, and at a head dim off the fast paths.
TEST(AttentionConformance, BiasWithKeyLengthsAndUnitScale) {
  for (DType dtype : kDTypes)
    for (bool bias : {true, false})
      for (int64_t dim : {64, 40}) {
        Problem p;
        p.batched = true;
        p.batch = 2;
        p.heads = 3;
        p.query_len = 37;
        p.key_len = 301;
        p.dim = dim;
        p.scale = 1.0f;
        p.magnitude = 0.4f;
        p.key_lengths = {301, 129};
        p.bias = bias;
        check_problem(p, dtype);
      }
}

TEST(AttentionConformance, BiasWithoutBatchDim) {
  for (DType dtype : kDTypes) {
    Problem p;
    p.heads = 2;
    p.query_len = 55;
    p.key_len = 55;
    p.dim = 64;
    p.scale = 1.0f;
    p.magnitude = 0.4f;
    p.bias = true;
    check_problem(p, dtype);
  }
}

// The bias must change the result (else the tests above could not fail on a kernel that ignores it).
TEST(AttentionConformance, BiasChangesTheExpectedResult) {
  Problem p;
  p.heads = 2;
  p.query_len = 9;
  p.key_len = 33;
  p.bias = true;
  const Case with_bias = make_case(p, DType::f32, DType::f32);
  p.bias = false;
  const Case without_bias = make_case(p, DType::f32, DType::f32);
  double largest_change = 0;
  for (size_t i = 0; i < with_bias.expected.size(); ++i)
    largest_change = std::max(largest_change, std::fabs(with_bias.expected[i] - without_bias.expected[i]));
  EXPECT_GT(largest_change, 0.1);
}

// The same with a bias (on the cpu: the grouped query tiles with a bias).
TEST(AttentionConformance, BiasOnGroupedQueryTiles) {
  Problem p;
  p.query_len = 200;
  p.key_len = 8500;
  p.dim = 128;
  p.scale = 1.0f;
  p.magnitude = 0.3f;
  p.bias = true;
  for (Device* device : devices_under_test()) {
    Case c = make_case(p, DType::bf16, DType::bf16);
    const std::string name = device->kernels().attention.default_name();
    run_kernel(*device, name, p, c);
    expect_matches(c, DType::bf16, concat(device->name(), " ", name, " bf16 ", describe(p)));
  }
}

TEST(AttentionConformance, RejectsBadBias) {
  for (Device* device : devices_under_test())
    for (const std::string& name : attention_kernels(*device)) {
      if (!device->kernels().attention.traits(name).bias) continue;
      auto kernel = device->kernels().attention.create(name);
      auto zeros = [&](const Shape& shape, DType dtype) {
        return on_device(Tensor::host(shape, dtype), *device);
      };
      const Tensor q = zeros({2, 4, 64}, DType::f32), k = zeros({2, 5, 64}, DType::f32);
      Tensor out = zeros({2, 4, 64}, DType::f32);
      kernel->load({});
      AttentionCall call;
      call.bias = zeros({2, 5, 4}, DType::f32);  // q_len and kv_len swapped
      EXPECT_THROW(kernel->apply(q, k, k, out, call), Error) << name << ": misshaped bias";
      call.bias = zeros({2, 4, 5}, DType::bf16);
      EXPECT_THROW(kernel->apply(q, k, k, out, call), Error) << name << ": bf16 bias";
      call.bias = zeros({2, 5, 4}, DType::f32).transpose(1, 2);
      EXPECT_THROW(kernel->apply(q, k, k, out, call), Error) << name << ": non-contiguous bias";
      call.bias = zeros({2, 4, 5}, DType::f32);
      EXPECT_NO_THROW(kernel->apply(q, k, k, out, call)) << name;
    }
}

// A kernel that cannot add a bias refuses one at load instead of ignoring it.
TEST(AttentionConformance, KernelWithoutBiasSupportRefusesABias) {
  class NoBiasKernel : public AttentionKernel {
   protected:
    void run(const Tensor&, const Tensor&, const Tensor&, Tensor&, const AttentionCall&) override {}
  };
  NoBiasKernel kernel;
  kernel.load({});
  const Tensor q = Tensor::host({1, 1, 4}, DType::f32);
  Tensor out = Tensor::host({1, 1, 4}, DType::f32);
  EXPECT_NO_THROW(kernel.apply(q, q, q, out));
  AttentionCall call;
  call.bias = Tensor::host({1, 1, 1}, DType::f32);
  EXPECT_THROW(kernel.apply(q, q, q, out, call), Error);
}

TEST(AttentionConformance, MixedInputAndOutputDtypes) {
  Problem p;
  p.heads = 2;
  p.query_len = 33;
  p.key_len = 70;
  p.dim = 64;
  for (Device* device : devices_under_test())
    for (const std::string& name : attention_kernels(*device)) {
      Case c = make_case(p, DType::bf16, DType::f32);
      c.v = c.v.to_host(DType::f16);  // contiguous f16 values; the reference is recomputed from them
      c.expected = reference_attention(p, c.q.to_floats(), c.k.to_floats(), c.v.to_floats());
      run_kernel(*device, name, p, c);
      expect_matches(c, DType::f32, device->name() + " " + name + " q/k bf16, v f16, out f32");
    }
}

TEST(AttentionConformance, RejectsBadArguments) {
  for (Device* device : devices_under_test())
    for (const std::string& name : attention_kernels(*device)) {
      auto kernel = device->kernels().attention.create(name);
      kernel->load({});
      Tensor q = empty({2, 4, 64}, DType::f32, *device), k = empty({2, 5, 32}, DType::f32, *device);
      Tensor v = empty({2, 5, 32}, DType::f32, *device), out = empty({2, 4, 64}, DType::f32, *device);
      EXPECT_THROW(kernel->apply(q, k, v, out), Error) << name << ": head_dim mismatch";
      const Tensor wide = empty({2, 4, 128}, DType::f32, *device);
      Tensor strided_out = wide.as_strided({2, 4, 64}, {512, 128, 2}, 0);
      const Tensor k64 = empty({2, 5, 64}, DType::f32, *device);
      EXPECT_THROW(kernel->apply(q, k64, k64, strided_out), Error) << name << ": non-contiguous head_dim";
      AttentionCall call;
      call.key_lengths = {3, 3};
      EXPECT_THROW(kernel->apply(q, k64, k64, out, call), Error)
          << name << ": key_lengths without a batch dim";
    }
}

// Memory of the process, in bytes, from /proc/self/status ("VmRSS", "VmHWM"); -1 when not readable.
int64_t process_memory(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  return -1;
}

// Self-attention at L = 4096 (1 head, d = 128): an L x L score matrix alone would be 64 MiB. The
// kernel's extra memory (allocator peak and resident-set peak) must stay a small multiple of the
// inputs (4 x 2 MiB), and sampled rows must match the fp64 reference.
TEST(AttentionConformance, LongSequenceMemoryIsLinear) {
  constexpr int64_t kLen = 4096, kDim = 128;
  constexpr int64_t kInputBytes = kLen * kDim * 4;
  constexpr int64_t kAllowedExtra = 12 * kInputBytes;  // 24 MiB, well under the 64 MiB of an L x L matrix
  Problem p;
  p.query_len = p.key_len = kLen;
  p.dim = kDim;
  const std::vector<float> q = random_values(kLen * kDim, 7, 1.0f), k = random_values(kLen * kDim, 8, 1.0f),
                           v = random_values(kLen * kDim, 9, 1.0f);
  const Tensor tq = Tensor::host_from(q, {1, kLen, kDim}), tk = Tensor::host_from(k, {1, kLen, kDim}),
               tv = Tensor::host_from(v, {1, kLen, kDim});
  Tensor out = Tensor::host({1, kLen, kDim}, DType::f32);
  auto kernel = host_device().kernels().attention.create("");
  kernel->load({});
  kernel->apply(tq, tk, tv, out);  // warm-up: threads, caches

  Allocator& allocator = host_device().allocator();
  allocator.release_cache();
  allocator.reset_peak();
  const size_t allocated_before = allocator.stats().current_bytes;
  std::ofstream clear_refs("/proc/self/clear_refs");  // "5" resets the resident-set peak (VmHWM)
  clear_refs << "5" << std::flush;
  const bool can_reset_peak_rss = clear_refs.good();
  const int64_t rss_before = process_memory("VmRSS");
  const auto start = std::chrono::steady_clock::now();
  kernel->apply(tq, tk, tv, out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t allocator_extra = static_cast<int64_t>(allocator.stats().peak_bytes - allocated_before);
  EXPECT_LE(allocator_extra, kAllowedExtra) << "allocator peak grew by " << allocator_extra << " bytes";
  if (can_reset_peak_rss && rss_before > 0) {
    const int64_t rss_extra = process_memory("VmHWM") - rss_before;
    EXPECT_LE(rss_extra, kAllowedExtra) << "resident set peak grew by " << rss_extra << " bytes";
  }
  std::printf("[ attention ] L=%lld d=%lld: %.3f s, %.1f GFLOP/s, allocator +%.1f MiB\n",
              static_cast<long long>(kLen), static_cast<long long>(kDim), seconds,
              4.0 * kLen * kLen * kDim / seconds / 1e9, allocator_extra / 1048576.0);

  // Sampled rows against the fp64 reference (the whole reference would take too long).
  const std::vector<float> actual = out.to_floats();
  for (int64_t row : {int64_t{0}, int64_t{1234}, kLen - 1}) {
    Problem one = p;
    one.query_len = 1;
    const std::vector<float> query(q.begin() + row * kDim, q.begin() + (row + 1) * kDim);
    const std::vector<double> expected = reference_attention(one, query, k, v);
    for (int64_t d = 0; d < kDim; ++d)
      ASSERT_NEAR(
          actual[row * kDim + d], expected[d],
          tolerance_for(DType::f32).absolute + tolerance_for(DType::f32).relative * std::fabs(expected[d]))
          << "row " << row << " dim " << d;
  }
}

}  // namespace
}  // namespace x2v
