#pragma once
// Every tolerance of the test suites, per dtype, in one place: a backend's port is held to these.
#include "core/dtype.h"

namespace x2v::testing {

// One kernel against the reference: max abs error over the reference's max abs value. The rounding of the
// output dtype dominates.
inline double kernel_tolerance(DType output_dtype) {
  switch (output_dtype) {
    case DType::f32:
      return 2e-5;
    case DType::f16:
      return 2e-3;
    case DType::bf16:
      return 1.2e-2;
    default:
      return 0.0;
  }
}

// Matmul and convolution against an fp64 product computed in the test from the rounded operands, as max
// |error| over max |reference|. All-f32: fp32 accumulation order only. Any 2-byte operand or output: a bf16
// output alone rounds by up to 2^-9 of a value, and a kernel may round an f32 input to the weight's 2-byte
// dtype before a native low-precision product. Quantized kernels against the reference of their format
// (identical quantized values by definition) use the same two bounds.
constexpr double kProductToleranceF32 = 1e-5;
constexpr double kProductToleranceLowPrecision = 1e-2;

// Attention against an fp64 attention of the rounded inputs, per element: |error| <= absolute + relative *
// |expected|. The budget is the output rounding (bf16: 2^-9, f16: 2^-12 relative) plus f32 accumulation and
// a fast exp.
struct ElementTolerance {
  double absolute, relative;
};
inline ElementTolerance attention_tolerance(DType output_dtype) {
  switch (output_dtype) {
    case DType::bf16:
      return {2e-3, 8e-3};
    case DType::f16:
      return {2e-4, 1e-3};
    default:
      return {1e-5, 1e-5};
  }
}

// A whole model's golden fixtures (outputs of the official PyTorch code on seeded random weights): max abs
// error over max abs value in f32, and for bf16 runs the error and the cosine similarity to the f32 fixture.
constexpr double kModelF32Tolerance = 1e-4;
constexpr double kT5Bf16Tolerance = 2e-2;  // the official model's own bf16 run is ~1e-2 from its f32 run
constexpr double kT5Bf16Cosine = 0.9999;
constexpr double kDitBf16Cosine = 0.999;
constexpr double kVaeBf16Tolerance = 0.1;  // measured 4e-2 (decode), 4e-3 (encode)
constexpr double kVaeBf16Cosine = 0.9995;  // measured 0.99993

// A quantized model against the reference's fake-quantized run, as a share of the quantization's own effect
// (the distance between the fake-quantized and the unquantized reference). Per-token int8 activations round
// to the nearest step, so a device whose f32 sums differ in the last bits flips a few of them: measured 1e-5
// of the effect on cpu, 0.19 on the vulkan device for one umT5 case. A model quantized differently (or not at
// all) is near 1.
constexpr double kQuantizedShareOfEffect = 0.25;

}  // namespace x2v::testing
