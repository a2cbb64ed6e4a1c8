// compare_tensors EXPECTED ACTUAL TOLERANCE: every tensor of EXPECTED (safetensors or .pth) is in ACTUAL with
// the same shape, and no value differs by more than TOLERANCE (absolute). Prints, per tensor, the largest
// difference and the share of values that are bit-identical; exits 1 on any mismatch. The parallel tests
// compare an mpirun result with the single-process one through it.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "io/checkpoint.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: compare_tensors EXPECTED ACTUAL TOLERANCE\n");
    return 2;
  }
  try {
    const auto expected = x2v::io::open_checkpoint(argv[1]);
    const auto actual = x2v::io::open_checkpoint(argv[2]);
    const double tolerance = std::atof(argv[3]);
    bool ok = !expected->names().empty();
    for (const std::string& name : expected->names()) {
      if (!actual->contains(name)) {
        std::printf("%s: missing from %s\n", name.c_str(), argv[2]);
        ok = false;
        continue;
      }
      const std::vector<float> a = expected->load(name).to_floats(), b = actual->load(name).to_floats();
      if (a.size() != b.size() || expected->info(name).shape != actual->info(name).shape) {
        std::printf("%s: shapes differ\n", name.c_str());
        ok = false;
        continue;
      }
      double largest = 0, magnitude = 0;
      size_t identical = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        const double difference = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
        if (!(difference <= largest)) largest = difference;  // NaN counts as the largest
        magnitude = std::fmax(magnitude, std::fabs(static_cast<double>(a[i])));
        identical += a[i] == b[i] ? 1 : 0;
      }
      const bool within = largest <= tolerance;
      std::printf("%s: %zu values, max |difference| %.3g (max |value| %.3g), %.1f%% bit-identical%s\n",
                  name.c_str(), a.size(), largest, magnitude,
                  100.0 * static_cast<double>(identical) / a.size(), within ? "" : "  OVER TOLERANCE");
      ok = ok && within;
    }
    return ok ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "compare_tensors: %s\n", error.what());
    return 2;
  }
}
