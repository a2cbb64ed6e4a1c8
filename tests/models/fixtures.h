#pragma once
// Loading golden fixtures (safetensors written by tools/reference/) and comparing against them.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "io/checkpoint.h"
#include "schedulers/torch_random.h"
#include "support/tolerances.h"

namespace x2v::testing {

inline std::string fixture_path(const std::string& relative) {
  return std::string(X2V_FIXTURES_DIR) + "/" + relative;
}

inline nlohmann::json read_json(const std::string& relative) {
  std::ifstream file(fixture_path(relative));
  return nlohmann::json::parse(file);
}

// Weights a fixture script drew with torch's CPU generator, regenerated from its recipe: per entry a name,
// shape, seed, scale and (optional) offset: torch.manual_seed(seed); torch.randn(numel) * scale + offset.
inline std::vector<std::pair<std::string, Tensor>> recipe_tensors(const nlohmann::json& entries) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const nlohmann::json& entry : entries) {
    const Shape shape = entry["shape"].get<Shape>();
    std::vector<float> values = torch_randn(entry["seed"].get<uint64_t>(), shape_numel(shape));
    const float scale = entry["scale"].get<float>(), offset = entry.value("offset", 0.0f);
    for (float& value : values) value = value * scale + offset;
    tensors.emplace_back(entry["name"].get<std::string>(), Tensor::host_from(values, shape));
  }
  return tensors;
}

inline Tensor load_fixture(const std::string& file, const std::string& name) {
  return io::open_checkpoint(fixture_path(file))->load(name).to_host(DType::f32);
}

// Max abs error over max abs value of the expected tensor.
inline double relative_error(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.shape(), expected.shape());
  const std::vector<float> a = actual.to_floats(), e = expected.to_floats();
  double error = 0, scale = 1e-30;
  for (size_t i = 0; i < std::min(a.size(), e.size()); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    error = std::max(error, std::fabs(static_cast<double>(a[i]) - e[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(e[i])));
  }
  return error / scale;
}

inline double cosine_similarity(const Tensor& actual, const Tensor& expected) {
  const std::vector<float> a = actual.to_floats(), e = expected.to_floats();
  double dot = 0, norm_a = 0, norm_e = 0;
  for (size_t i = 0; i < std::min(a.size(), e.size()); ++i) {
    dot += static_cast<double>(a[i]) * e[i];
    norm_a += static_cast<double>(a[i]) * a[i];
    norm_e += static_cast<double>(e[i]) * e[i];
  }
  return dot / std::sqrt(norm_a * norm_e + 1e-300);
}

}  // namespace x2v::testing
