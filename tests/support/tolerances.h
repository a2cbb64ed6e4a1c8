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

// A whole model's golden fixtures (outputs of the official PyTorch code on seeded random weights): max abs
// error over max abs value in f32, and for bf16 runs the error and the cosine similarity to the f32 fixture.
constexpr double kModelF32Tolerance = 1e-4;
constexpr double kT5Bf16Tolerance = 2e-2;  // the official model's own bf16 run is ~1e-2 from its f32 run
constexpr double kT5Bf16Cosine = 0.9999;
constexpr double kDitBf16Cosine = 0.999;
constexpr double kVaeBf16Tolerance = 0.1;  // measured 4e-2 (decode), 4e-3 (encode)
constexpr double kVaeBf16Cosine = 0.9995;  // measured 0.99993

}  // namespace x2v::testing
