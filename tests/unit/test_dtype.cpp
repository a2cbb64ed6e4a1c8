// dtype conversions checked against torch's own conversions (fixtures from
// tools/reference/make_dtype_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace x2v {
namespace {

template <class T>
std::vector<T> read_fixture(const std::string& name) {
  const std::string path = std::string(X2V_FIXTURES_DIR) + "/dtype/" + name;
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << "missing fixture " << path << " (run tools/reference/make_dtype_fixtures.py)";
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::f8_e4m3), 1u);
  EXPECT_STREQ(dtype_name(DType::f8_e5m2), "f8_e5m2");
  DType parsed;
  EXPECT_TRUE(parse_dtype("BF16", &parsed));
  EXPECT_EQ(parsed, DType::bf16);
  EXPECT_TRUE(parse_dtype("float8_e4m3fn", &parsed));
  EXPECT_EQ(parsed, DType::f8_e4m3);
  EXPECT_FALSE(parse_dtype("float64", &parsed));
}

TEST(DType, Bf16MatchesTorchBitForBit) {
  const auto inputs = read_fixture<float>("inputs.f32");
  const auto expected = read_fixture<uint16_t>("torch.bf16");
  ASSERT_EQ(inputs.size(), expected.size());
  ASSERT_GT(inputs.size(), 1000u);
  for (size_t i = 0; i < inputs.size(); ++i)
    ASSERT_EQ(float_to_bf16(inputs[i]), expected[i]) << "input " << inputs[i] << " (index " << i << ")";
}

TEST(DType, F16MatchesTorchBitForBit) {
  const auto inputs = read_fixture<float>("inputs.f32");
  const auto expected = read_fixture<uint16_t>("torch.f16");
  ASSERT_EQ(inputs.size(), expected.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    ASSERT_EQ(float_to_f16(inputs[i]), expected[i]) << "input " << inputs[i] << " (index " << i << ")";
}

TEST(DType, Float8MatchesTorchBitForBit) {
  const auto inputs = read_fixture<float>("inputs.f32");
  const auto e4m3 = read_fixture<uint8_t>("torch.f8_e4m3");
  const auto e5m2 = read_fixture<uint8_t>("torch.f8_e5m2");
  ASSERT_EQ(inputs.size(), e4m3.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_EQ(float_to_f8_e4m3(inputs[i]), e4m3[i]) << "e4m3 of " << inputs[i];
    ASSERT_EQ(float_to_f8_e5m2(inputs[i]), e5m2[i]) << "e5m2 of " << inputs[i];
  }
}

TEST(DType, Float8DecodeMatchesTorch) {
  const auto e4m3 = read_fixture<float>("decode.f8_e4m3");
  const auto e5m2 = read_fixture<float>("decode.f8_e5m2");
  ASSERT_EQ(e4m3.size(), 256u);
  for (int code = 0; code < 256; ++code) {
    const float ours4 = f8_e4m3_to_float(static_cast<uint8_t>(code));
    const float ours5 = f8_e5m2_to_float(static_cast<uint8_t>(code));
    if (std::isnan(e4m3[code])) {
      EXPECT_TRUE(std::isnan(ours4)) << code;
    } else {
      EXPECT_EQ(ours4, e4m3[code]) << "e4m3 code " << code;
    }
    if (std::isnan(e5m2[code])) {
      EXPECT_TRUE(std::isnan(ours5)) << code;
    } else {
      EXPECT_EQ(ours5, e5m2[code]) << "e5m2 code " << code;
    }
  }
}

TEST(DType, Float8E4m3Saturates) {
  EXPECT_EQ(float_to_f8_e4m3(1e6f), 0x7e);
  EXPECT_EQ(float_to_f8_e4m3(-INFINITY), 0xfe);
  EXPECT_EQ(f8_e4m3_to_float(0x7e), 448.0f);
  EXPECT_TRUE(std::isnan(f8_e4m3_to_float(float_to_f8_e4m3(NAN))));
}

TEST(DType, HalfRoundTripsEveryCode) {
  for (uint32_t code = 0; code < 65536; ++code) {
    const uint16_t bits = static_cast<uint16_t>(code);
    const float value = f16_to_float(bits);
    if (std::isnan(value)) continue;
    ASSERT_EQ(float_to_f16(value), bits) << "f16 code " << code;
    const float bf = bf16_to_float(bits);
    if (!std::isnan(bf)) {
      ASSERT_EQ(float_to_bf16(bf), bits) << "bf16 code " << code;
    }
  }
}

TEST(DType, ConvertElementsSaturatesIntegers) {
  const std::vector<float> values = {-300.0f, -1.5f, 0.5f, 2.5f, 127.4f, 1000.0f};
  std::vector<int8_t> out(values.size());
  convert_elements(values.data(), DType::f32, out.data(), DType::i8, values.size());
  EXPECT_EQ(out, (std::vector<int8_t>{-128, -2, 0, 2, 127, 127}));
  std::vector<uint16_t> bf(values.size());
  convert_elements(values.data(), DType::f32, bf.data(), DType::bf16, values.size());
  std::vector<float> back(values.size());
  convert_elements(bf.data(), DType::bf16, back.data(), DType::f32, values.size());
  EXPECT_EQ(back[1], -1.5f);
}

}  // namespace
}  // namespace x2v
