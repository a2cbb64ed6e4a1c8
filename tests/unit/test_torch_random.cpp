// x2v's seeded noise against torch's own torch.manual_seed(s); torch.randn(n) on CPU, bit for bit
// (fixtures from tools/reference/make_random_fixtures.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "schedulers/torch_random.h"

namespace x2v {
namespace {

const std::string kFixtureDir = std::string(X2V_FIXTURES_DIR) + "/random/";

std::vector<float> read_floats(const std::string& name) {
  const std::string path = kFixtureDir + name;
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << "missing fixture " << path << " (run tools/reference/make_random_fixtures.py)";
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

nlohmann::json read_index() {
  std::ifstream file(kFixtureDir + "index.json");
  EXPECT_TRUE(file.good()) << "missing " << kFixtureDir << "index.json";
  return nlohmann::json::parse(file);
}

// Counts values whose bit patterns differ; describes the first few in *report.
size_t count_bit_mismatches(const std::vector<float>& got, const std::vector<float>& want,
                            std::string* report) {
  if (got.size() != want.size()) {
    *report = concat("size ", got.size(), " vs ", want.size());
    return std::max(got.size(), want.size());
  }
  size_t mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::bit_cast<uint32_t>(got[i]) == std::bit_cast<uint32_t>(want[i])) continue;
    if (++mismatches <= 3) {
      char line[96];
      std::snprintf(line, sizeof(line), " [%zu] got %.9g (0x%08x) want %.9g (0x%08x);", i, got[i],
                    std::bit_cast<uint32_t>(got[i]), want[i], std::bit_cast<uint32_t>(want[i]));
      *report += line;
    }
  }
  return mismatches;
}

// Mirrors bits_hash in make_random_fixtures.py.
uint64_t bits_hash(const std::vector<float>& values) {
  uint64_t sum = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const uint64_t bits = std::bit_cast<uint32_t>(values[i]);
    sum += (bits ^ (uint64_t{i} * 0x9E3779B97F4A7C15ULL)) * 0xFF51AFD7ED558CCDULL;
  }
  return sum;
}

uint64_t parse_hex(const std::string& text) {
  return std::stoull(text, nullptr, 16);
}

TEST(TorchRandom, MatchesTorchForEverySeedAndSize) {
  const auto index = read_index();
  ASSERT_GE(index["cases"].size(), 28u);
  for (const auto& item : index["cases"]) {
    const uint64_t seed = item["seed"].get<uint64_t>();
    const int64_t count = item["count"].get<int64_t>();
    const auto want = read_floats(item["file"].get<std::string>());
    ASSERT_EQ(want.size(), static_cast<size_t>(count)) << item["file"];
    std::string report;
    const size_t mismatches = count_bit_mismatches(torch_randn(seed, count), want, &report);
    EXPECT_EQ(mismatches, 0u) << "seed " << seed << " count " << count << ": " << mismatches << " of "
                              << count << " values differ:" << report;
  }
}

TEST(TorchRandom, LargeCountHeadTailAndHash) {
  const auto large = read_index()["large"];
  const auto values = torch_randn(large["seed"].get<uint64_t>(), large["count"].get<int64_t>());
  const size_t kept = large["kept"].get<size_t>();
  std::string report;
  const std::vector<float> head(values.begin(), values.begin() + kept);
  const std::vector<float> tail(values.end() - kept, values.end());
  EXPECT_EQ(count_bit_mismatches(head, read_floats(large["head"]), &report), 0u) << "head:" << report;
  EXPECT_EQ(count_bit_mismatches(tail, read_floats(large["tail"]), &report), 0u) << "tail:" << report;
  EXPECT_EQ(bits_hash(values), parse_hex(large["hash"])) << "some of the middle values differ from torch";
}

TEST(TorchRandom, WanLatentSizedNoiseHashAndSpeed) {
  const auto latent = read_index()["latent"];
  const auto start = std::chrono::steady_clock::now();
  const auto values = torch_randn(latent["seed"].get<uint64_t>(), latent["count"].get<int64_t>());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(values.size(), 16u * 21 * 60 * 104);
  EXPECT_EQ(bits_hash(values), parse_hex(latent["hash"]));
  RecordProperty("seconds", std::to_string(seconds));
  std::printf("torch_randn of %zu values: %.3f s\n", values.size(), seconds);
}

TEST(TorchRandom, SuccessiveCallsContinueTheStreamLikeTorch) {
  // Odd small calls leave a cached sample that the next small call must use, across larger calls.
  const auto sequence = read_index()["sequence"];
  TorchGenerator generator(sequence["seed"].get<uint64_t>());
  std::vector<float> got;
  for (const auto& count : sequence["counts"]) {
    const auto part = generator.randn(count.get<int64_t>());
    got.insert(got.end(), part.begin(), part.end());
  }
  std::string report;
  const size_t mismatches = count_bit_mismatches(got, read_floats(sequence["file"]), &report);
  EXPECT_EQ(mismatches, 0u) << report;
}

TEST(TorchRandom, ManualSeedRestartsStreamAndDropsCache) {
  TorchGenerator generator(5);
  generator.randn(1);  // leaves a cached sample behind
  generator.manual_seed(5);
  EXPECT_EQ(generator.randn(1), torch_randn(5, 1));
  EXPECT_EQ(generator.initial_seed(), 5u);
  // torch keeps only the low 32 bits of the seed in the engine.
  EXPECT_EQ(torch_randn((uint64_t{1} << 32) + 7, 40), torch_randn(7, 40));
}

TEST(TorchRandom, EngineIsStandardMt19937) {
  // Independent of torch: the C++ standard fixes the 10000th output of mt19937 seeded 5489.
  TorchGenerator generator(5489);
  uint32_t value = 0;
  for (int i = 0; i < 10000; ++i) value = generator.random();
  EXPECT_EQ(value, 4123659995u);
  TorchGenerator pair(1);
  std::mt19937 reference(1);
  const uint64_t high = reference(), low = reference();
  EXPECT_EQ(pair.random64(), (high << 32) | low);
}

TEST(TorchRandom, ZeroAndNegativeCounts) {
  TorchGenerator generator(3);
  EXPECT_TRUE(generator.randn(0).empty());
  EXPECT_EQ(generator.randn(20), torch_randn(3, 20));  // the empty call consumed nothing
  EXPECT_THROW(generator.randn(-1), Error);
}

TEST(TorchRandom, ComparisonsCanFail) {
  const auto want = read_floats("randn_s42_n1000.f32");
  std::string report;
  // Another seed differs almost everywhere.
  EXPECT_GT(count_bit_mismatches(torch_randn(43, 1000), want, &report), 990u);
  // A single 1-ulp change is caught, and so is it by the hash.
  auto nudged = torch_randn(42, 1000);
  nudged[500] = std::nextafter(nudged[500], 10.0f);
  report.clear();
  EXPECT_EQ(count_bit_mismatches(nudged, want, &report), 1u);
  EXPECT_NE(bits_hash(nudged), bits_hash(want));
  // Plain libm float math in the Box-Muller (instead of torch's Cephes/FMA sequence) is not enough.
  TorchGenerator generator(42);
  std::vector<float> libm(1000);
  for (auto& value : libm) value = static_cast<float>(generator.random() & 0xffffffu) / 16777216.0f;
  for (size_t block = 0; block + 16 <= libm.size(); block += 16) {
    for (int j = 0; j < 8; ++j) {
      const float radius = std::sqrt(-2.0f * std::log(1.0f - libm[block + j]));
      const float theta = static_cast<float>(2.0 * 3.14159265358979323846) * libm[block + j + 8];
      libm[block + j] = radius * std::cos(theta);
      libm[block + j + 8] = radius * std::sin(theta);
    }
  }
  report.clear();
  const size_t libm_mismatches =
      count_bit_mismatches(std::vector<float>(libm.begin(), libm.begin() + 992),
                           std::vector<float>(want.begin(), want.begin() + 992), &report);
  EXPECT_GT(libm_mismatches, 0u) << "the fixture would not tell torch's kernel from plain libm math";
}

}  // namespace
}  // namespace x2v
