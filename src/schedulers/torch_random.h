#pragma once
// Seeded Gaussian noise that is bit-identical to PyTorch's CPU generator, so that a seed means the
// same latent noise in x2v as in LightX2V run with torch on CPU:
//   torch.manual_seed(s); torch.randn(shape)          (float32, CPU, any shape: only numel matters)
// What torch does (read from ATen's DistributionTemplates.h, avx_mathfun.h, MT19937RNGEngine.h and
// checked against torch's machine code, see torch_random.cpp):
//   * the engine is MT19937 seeded with the low 32 bits of the seed (2^32 + 7 acts like 7);
//   * numel >= 16: all uniforms (random() & 0xffffff) * 2^-24 are drawn first, then Box-Muller turns
//     each block of 16 (pairs j, j + 8) into normals with Cephes-style float32 log/sincos
//     polynomials evaluated with FMA; when numel % 16 != 0 the last 16 outputs are redrawn from 16
//     fresh uniforms and recomputed;
//   * numel < 16: a scalar double-precision Box-Muller (random64() uniforms, log1p/sin/cos) that
//     returns the cosine sample and keeps the sine sample in the generator for the next such call.
// Note: torch's CUDA generator (Philox) gives different numbers; this matches the CPU one only.
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

namespace x2v {

// Mirrors at::CPUGeneratorImpl: one MT19937 stream plus the cached second normal of the scalar path.
class TorchGenerator {
 public:
  // torch's default CPU seed (c10::detail::default_rng_seed_val) when none is given.
  static constexpr uint64_t kDefaultSeed = 67280421310721ULL;

  explicit TorchGenerator(uint64_t seed = kDefaultSeed) { manual_seed(seed); }

  // Like torch.Generator.manual_seed / torch.manual_seed: restarts the stream, drops the cache.
  void manual_seed(uint64_t seed);
  uint64_t initial_seed() const { return seed_; }

  // The next standard-normal float32 values, exactly as torch.randn(count, generator=g) returns
  // them; successive calls continue the stream like successive torch.randn calls.
  std::vector<float> randn(int64_t count);
  void randn(std::span<float> out);

  // at::CPUGeneratorImpl::random() / random64(): raw engine output (random64 = hi << 32 | lo).
  uint32_t random() { return static_cast<uint32_t>(engine_()); }
  uint64_t random64();

 private:
  void fill_normal_blocks(std::span<float> out);  // numel >= 16
  float next_scalar_normal();                     // numel < 16

  uint64_t seed_ = 0;
  std::mt19937 engine_;  // the standard MT19937: same recurrence and seeding as at::mt19937
  std::optional<double> next_double_normal_;
};

// torch.manual_seed(seed); torch.randn(count) in one call.
std::vector<float> torch_randn(uint64_t seed, int64_t count);

}  // namespace x2v
