// Which instruction-set paths of the cpu backend this machine runs. Each path is a test; a path the CPU (or
// X2V_CPU_ISA) does not offer is skipped with the reason, so ctest's "did not run" list names every path
// this machine could not check. The paths themselves are checked by the conformance tests, which run each
// kernel on whatever path is taken; `ctest -L isa` runs them again capped at AVX2.
#include <gtest/gtest.h>

#include <string>

#include "ops/conformance.h"
#include "platform/cpu/attention_tiles.h"
#include "platform/cpu/cpu_features.h"
#include "platform/cpu/onednn_context.h"
#include "platform/platform.h"
#include "quant/quantize.h"

namespace x2v {
namespace {

using conformance::random_tensor;
using conformance::relative_error;

std::string isa() {
  return onednn_isa_name();
}

// `kernel`'s y = x W^T (bf16 x and W) against the portable reference, on whatever path the kernel takes.
double bf16_mm_error(const std::string& kernel) {
  const Tensor weight = random_tensor({96, 160}, DType::bf16, 1),
               x = random_tensor({33, 160}, DType::bf16, 2);
  Tensor y = Tensor::host({33, 96}, DType::f32), expected = Tensor::host({33, 96}, DType::f32);
  auto actual_kernel = host_device().kernels().mm.create(kernel);
  actual_kernel->load(weight, Tensor());
  actual_kernel->apply(x, y);
  auto reference = host_device().kernels().mm.create("torch");
  reference->load(weight, Tensor());
  reference->apply(x, expected);
  return relative_error(y, expected);
}

TEST(IsaPaths, Avx2Kernels) {
  if (cpu::vector_level() != cpu::VectorLevel::avx2)
    GTEST_SKIP()
        << "not run here: this CPU lacks AVX2/FMA/F16C or X2V_CPU_ISA=sse41 (the portable kernels run)";
  EXPECT_TRUE(host_device().kernels().attention.contains("cpu_flash_attn"));
  EXPECT_TRUE(host_device().kernels().mm.contains("int8-cpu"));
  EXPECT_EQ(host_device().kernels().attention.default_name(), "cpu_flash_attn");
}

// The build has no -march: the plain loops run at the level chosen here, and below AVX2 the defaults are
// the portable kernels (a plain x86-64 CPU runs everything). X2V_CPU_ISA=sse41 takes this path anywhere.
TEST(IsaPaths, BaselineX86_64) {
  if (cpu::vector_level() != cpu::VectorLevel::x86_64)
    GTEST_SKIP() << "not run here: the CPU has AVX2 and X2V_CPU_ISA does not cap it to sse41";
  EXPECT_FALSE(host_device().kernels().attention.contains("cpu_flash_attn"));
  EXPECT_EQ(host_device().kernels().attention.default_name(), "torch");
  EXPECT_FALSE(host_device().kernels().mm.contains("int8-cpu"));
  EXPECT_NE(host_device().hardware().find("loops x86-64 (SSE2)"), std::string::npos)
      << host_device().hardware();
}

TEST(IsaPaths, VectorLevelFollowsTheCpuAndTheCap) {
  const bool capped = cpu::isa_cap() == cpu::IsaCap::sse41;
  const cpu::VectorLevel expected =
      !capped && cpu::cpu_has(cpu::VectorLevel::avx2) ? cpu::VectorLevel::avx2 : cpu::VectorLevel::x86_64;
  EXPECT_EQ(cpu::vector_level(), expected);
  EXPECT_NE(host_device().hardware().find(cpu::vector_level_name(expected)), std::string::npos);
}

TEST(IsaPaths, NativeBf16Matmul) {
  if (!onednn_matmul_is_native(DType::bf16))
    GTEST_SKIP() << "not run here: oneDNN has no native bf16 matmul at isa " << isa()
                 << " (bf16 weights are widened to f32)";
  EXPECT_LE(bf16_mm_error("onednn_mm"), 1e-5) << "bf16 products summed in f32 (isa " << isa() << ")";
}

TEST(IsaPaths, Bf16AttentionTiles) {
  if (!cpu_attention::bf16_tiles_available())
    GTEST_SKIP() << "not run here: no AVX512-BF16 (or X2V_CPU_ISA caps it); the AVX2 f32 tiles run";
  const Tensor q = random_tensor({2, 70, 64}, DType::bf16, 3), k = random_tensor({2, 90, 64}, DType::bf16, 4),
               v = random_tensor({2, 90, 64}, DType::bf16, 5);
  Tensor out = Tensor::host({2, 70, 64}, DType::f32), expected = Tensor::host({2, 70, 64}, DType::f32);
  host_device().kernels().attention.create("cpu_flash_attn")->apply(q, k, v, out);
  host_device().kernels().attention.create("torch")->apply(q, k, v, expected);
  EXPECT_LE(relative_error(out, expected), 8e-3) << "probabilities rounded to bf16 for P V";
}

TEST(IsaPaths, ExactInt8MatmulOnVnniOrAmx) {
  if (!onednn_int8_matmul_is_exact())
    GTEST_SKIP() << "not run here: oneDNN's int8 matmul at isa " << isa()
                 << " is not exact (no VNNI); x2v's AVX2 int8 GEMM runs";
  const QuantizedWeight weight = quantize_weight(random_tensor({96, 160}, DType::f32, 6), QuantFormat::int8);
  const Tensor x = random_tensor({33, 160}, DType::f32, 7);
  Tensor y = Tensor::host({33, 96}, DType::f32), expected = Tensor::host({33, 96}, DType::f32);
  auto kernel = host_device().kernels().mm.create("int8-cpu");
  kernel->load_quantized(weight, Tensor());
  kernel->apply(x, y);
  auto reference = host_device().kernels().mm.create("int8-torch");
  reference->load_quantized(weight, Tensor());
  reference->apply(x, expected);
  EXPECT_LE(relative_error(y, expected), 1e-6) << "int32 sums are exact; only the f32 epilogue rounds";
}

TEST(IsaPaths, Amx) {
  if (isa().find("amx") == std::string::npos)
    GTEST_SKIP() << "not run here: oneDNN's isa is " << isa() << ", no AMX";
  EXPECT_LE(bf16_mm_error("onednn_mm"), 1e-5) << "bf16 matmul on AMX";
}

}  // namespace
}  // namespace x2v
