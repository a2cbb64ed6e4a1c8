// Bit-exact emulation of torch's CPU randn (see torch_random.h for the overall recipe).
//
// The float32 Box-Muller is torch's AVX2 kernel (NormalFill16 in ATen's DistributionTemplates.h),
// which calls log256_ps / sincos256_ps from ATen's avx_mathfun.h: Cephes polynomials, not libm.
// Torch's wheels build that file with GCC at -O2 -mavx2 -mfma, and GCC contracts some of its
// separate mul/add intrinsics into FMAs; which ones was read from the disassembly of
// libtorch_cpu.so (torch 2.15, the AVX2 normal_stub). The scalar code below performs the same
// operations, in the same order, with std::fma exactly where torch's machine code has an FMA and a
// separately rounded product everywhere else. Keep it that way: an extra or missing FMA, or a
// "simplification" such as dropping a + 0.0f, changes the last bit of some outputs.
#include "schedulers/torch_random.h"

#include <bit>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace x2v {
namespace {

// Cephes coefficients as avx_mathfun.h writes them: double literals rounded to float.
constexpr float kSqrtHalf = static_cast<float>(0.707106781186547524);
constexpr float kLogP[9] = {static_cast<float>(7.0376836292E-2), static_cast<float>(-1.1514610310E-1),
                            static_cast<float>(1.1676998740E-1), static_cast<float>(-1.2420140846E-1),
                            static_cast<float>(1.4249322787E-1), static_cast<float>(-1.6668057665E-1),
                            static_cast<float>(2.0000714765E-1), static_cast<float>(-2.4999993993E-1),
                            static_cast<float>(3.3333331174E-1)};
constexpr float kLogQ1 = static_cast<float>(-2.12194440e-4);
constexpr float kLogQ2 = static_cast<float>(0.693359375);

constexpr float kFourOverPi = static_cast<float>(1.27323954473516);
// -pi/4 split in three parts for the "extended precision" argument reduction.
constexpr float kMinusPiOver4Part1 = static_cast<float>(-0.78515625);
constexpr float kMinusPiOver4Part2 = static_cast<float>(-2.4187564849853515625e-4);
constexpr float kMinusPiOver4Part3 = static_cast<float>(-3.77489497744594108e-8);
constexpr float kSinP[3] = {static_cast<float>(-1.9515295891E-4), static_cast<float>(8.3321608736E-3),
                            static_cast<float>(-1.6666654611E-1)};
constexpr float kCosP[3] = {static_cast<float>(2.443315711809948E-005),
                            static_cast<float>(-1.388731625493765E-003),
                            static_cast<float>(4.166664568298827E-002)};

// _mm256_set1_ps(2.0f * c10::pi<double>): the double 2*pi rounded to float.
constexpr float kTwoPiFloat = static_cast<float>(2.0 * std::numbers::pi);
constexpr float kUniformScale24 = 1.0f / 16777216.0f;         // 2^-24
constexpr double kUniformScale53 = 1.0 / 9007199254740992.0;  // 2^-53

// log256_ps for one lane. Only called with x in [2^-24, 1] (x = 1 - uniform), so the NaN mask for
// x <= 0 and the clamp to the smallest normal float, which never change such inputs, are left out.
float cephes_log(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  float exponent = static_cast<float>(static_cast<int32_t>(bits >> 23) - 127) + 1.0f;
  // The mantissa scaled into [0.5, 1).
  const float mantissa = std::bit_cast<float>((bits & ~0x7f800000u) | 0x3f000000u);
  const bool below_sqrt_half = mantissa < kSqrtHalf;
  exponent = exponent - (below_sqrt_half ? 1.0f : 0.0f);
  // x = mantissa - 1 (+ mantissa again when below sqrt(1/2), i.e. 2 * mantissa - 1).
  const float t = (mantissa - 1.0f) + (below_sqrt_half ? mantissa : 0.0f);
  const float t_squared = t * t;

  float poly = kLogP[0];
  for (int i = 1; i < 9; ++i) poly = std::fma(poly, t, kLogP[i]);  // GCC fused these mul+add pairs
  poly = poly * t;
  poly = std::fma(poly, t_squared, exponent * kLogQ1);  // fused with poly*z; e*q1 rounded alone
  poly = std::fma(-t_squared, 0.5f, poly);              // vfnmadd: poly - z*0.5
  const float sum = t + poly;
  return std::fma(exponent, kLogQ2, sum);
}

struct SinCos {
  float sin;
  float cos;
};

// sincos256_ps for one lane (torch only passes theta = 2*pi*u >= 0, well below 8192).
SinCos cephes_sincos(float theta) {
  const uint32_t sign_of_input = std::bit_cast<uint32_t>(theta) & 0x80000000u;
  const float magnitude = std::fabs(theta);
  // Octant j, rounded up to even (Cephes' j = (j + 1) & ~1), from a truncating conversion.
  int32_t octant = static_cast<int32_t>(magnitude * kFourOverPi);
  octant = (octant + 1) & ~1;
  const float octant_float = static_cast<float>(octant);

  float x = std::fma(octant_float, kMinusPiOver4Part1, magnitude);
  x = std::fma(octant_float, kMinusPiOver4Part2, x);
  x = std::fma(octant_float, kMinusPiOver4Part3, x);

  const uint32_t sin_sign = sign_of_input ^ ((static_cast<uint32_t>(octant) & 4u) << 29);
  const uint32_t cos_sign = (~static_cast<uint32_t>(octant - 2) & 4u) << 29;
  const bool sine_polynomial_gives_sin = (octant & 2) == 0;

  const float x_squared = x * x;
  float cos_poly = std::fma(kCosP[0], x_squared, kCosP[1]);
  cos_poly = std::fma(cos_poly, x_squared, kCosP[2]);
  cos_poly = cos_poly * x_squared;
  cos_poly = std::fma(cos_poly, x_squared, -(x_squared * 0.5f));  // vfmsub with z*0.5 rounded alone
  cos_poly = cos_poly + 1.0f;

  float sin_poly = std::fma(kSinP[0], x_squared, kSinP[1]);
  sin_poly = std::fma(sin_poly, x_squared, kSinP[2]);
  sin_poly = sin_poly * x_squared;
  sin_poly = std::fma(x, sin_poly, x);

  // torch selects with masks and adds the other polynomial's zeroed lane: the "+ 0.0f" keeps the
  // one visible effect of that (a -0 result becomes +0).
  const float sin_value = sine_polynomial_gives_sin ? 0.0f + sin_poly : cos_poly + 0.0f;
  const float cos_value = sine_polynomial_gives_sin ? cos_poly + 0.0f : 0.0f + sin_poly;
  return {std::bit_cast<float>(std::bit_cast<uint32_t>(sin_value) ^ sin_sign),
          std::bit_cast<float>(std::bit_cast<uint32_t>(cos_value) ^ cos_sign)};
}

// NormalFill16 with mean 0, std 1: uniforms in data[0..16) become normals in place, pairing
// (j, j + 8); the cosine sample goes to j and the sine sample to j + 8.
void box_muller_16(float* data) {
  for (int j = 0; j < 8; ++j) {
    const float u1 = 1.0f - data[j];  // [0, 1) -> (0, 1] for the log
    const float u2 = data[j + 8];
    const float radius = std::sqrt(-2.0f * cephes_log(u1));
    const SinCos trig = cephes_sincos(kTwoPiFloat * u2);
    // _mm256_fmadd_ps(n, std, mean): with std 1 and mean 0 it only turns -0 into +0.
    data[j] = std::fma(radius * trig.cos, 1.0f, 0.0f);
    data[j + 8] = std::fma(radius * trig.sin, 1.0f, 0.0f);
  }
}

}  // namespace

void TorchGenerator::manual_seed(uint64_t seed) {
  seed_ = seed;
  // at::mt19937 seeds with the low 32 bits only, like std::mt19937 does with a 32-bit value.
  engine_.seed(static_cast<uint32_t>(seed & 0xffffffffu));
  next_double_normal_.reset();
}

uint64_t TorchGenerator::random64() {
  const uint64_t high = random();
  const uint64_t low = random();
  return (high << 32) | low;
}

std::vector<float> TorchGenerator::randn(int64_t count) {
  if (count < 0) throw Error("random", concat("randn count must be >= 0, got ", count));
  std::vector<float> values(static_cast<size_t>(count));
  randn(std::span<float>(values));
  return values;
}

void TorchGenerator::randn(std::span<float> out) {
  if (out.size() >= 16) {
    fill_normal_blocks(out);
  } else {
    for (float& value : out) value = next_scalar_normal();
  }
}

void TorchGenerator::fill_normal_blocks(std::span<float> out) {
  const size_t size = out.size();
  float* data = out.data();
  // uniform_real_distribution<float>(0, 1): 24 random bits scaled by 2^-24 (exact).
  const auto uniform = [this] { return static_cast<float>(random() & 0xffffffu) * kUniformScale24; };
  for (size_t i = 0; i < size; ++i) data[i] = uniform();
  size_t block = 0;
  for (; block + 16 <= size; block += 16) box_muller_16(data + block);
  if (size % 16 != 0) {
    // torch redraws the last 16 outputs (overlapping the last full block) from fresh uniforms.
    float* tail = data + size - 16;
    for (int i = 0; i < 16; ++i) tail[i] = uniform();
    box_muller_16(tail);
  }
}

float TorchGenerator::next_scalar_normal() {
  // at::normal_distribution<double>: hand out the cached sine sample first.
  if (next_double_normal_) {
    const double cached = *next_double_normal_;
    next_double_normal_.reset();
    return static_cast<float>(std::fma(cached, 1.0, 0.0));
  }
  const auto uniform = [this] {
    return static_cast<double>(random64() & ((uint64_t{1} << 53) - 1)) * kUniformScale53;
  };
  const double u1 = uniform();
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log1p(-u2));
  const double theta = 2.0 * std::numbers::pi * u1;
  next_double_normal_ = radius * std::sin(theta);
  return static_cast<float>(std::fma(radius * std::cos(theta), 1.0, 0.0));
}

std::vector<float> torch_randn(uint64_t seed, int64_t count) {
  TorchGenerator generator(seed);
  return generator.randn(count);
}

}  // namespace x2v
