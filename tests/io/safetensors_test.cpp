// The safetensors reader against files written by the reference library (safetensors.torch.save_file)
// and against corrupted copies of them.
#include "io/safetensors.h"

#include <cstring>
#include <random>

#include "io_test_util.h"

namespace x2v::io {
namespace {

using testing::expect_error;
using testing::fixture;

// A safetensors file from raw parts: 8-byte length, header text, data.
std::vector<uint8_t> make_file(const std::string& header, const std::vector<uint8_t>& data) {
  const uint64_t size = header.size();
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(size >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

class SafetensorsCorruption : public ::testing::Test {
 protected:
  // Writes the bytes and expects opening them to fail with a message holding `parts`.
  void expect_open_error(const std::vector<uint8_t>& bytes, const std::vector<std::string>& parts) {
    const std::string path = scratch_.file("bad.safetensors");
    testing::write_bytes(path, bytes);
    std::vector<std::string> all = parts;
    all.push_back(path);  // every message names the file
    all.push_back("[safetensors]");
    expect_error([&] { SafetensorsFile file(path); }, all);
  }
  void expect_header_error(const std::string& header, size_t data_bytes,
                           const std::vector<std::string>& parts) {
    expect_open_error(make_file(header, std::vector<uint8_t>(data_bytes, 0)), parts);
  }
  testing::ScratchDir scratch_;
};

TEST(Safetensors, ReadsWhatTorchWrote) {
  SafetensorsFile file(fixture("weights.safetensors"));
  const auto expected = testing::expected_tensors();
  ASSERT_EQ(file.names().size(), expected.size());
  for (const auto& [name, reference] : expected) {
    SCOPED_TRACE(name);
    DType dtype;
    ASSERT_TRUE(parse_dtype(reference.torch_dtype, &dtype));
    const TensorInfo info = file.info(name);
    ASSERT_TRUE(info.dtype.has_value());
    EXPECT_EQ(*info.dtype, dtype);
    EXPECT_EQ(info.shape, reference.shape);
    EXPECT_EQ(info.bytes, reference.bytes.size());
    const Tensor tensor = file.load(name);
    EXPECT_EQ(tensor.dtype(), dtype);
    EXPECT_EQ(tensor.shape(), reference.shape);
    EXPECT_EQ(testing::tensor_bytes(tensor), reference.bytes);
  }
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.info("blocks.0.attn.q.bias").file_dtype, "BF16");
}

TEST(Safetensors, LoadsInPlaceAndKeepsTheMappingAlive) {
  Tensor first, second;
  {
    SafetensorsFile file(fixture("weights.safetensors"));
    first = file.load("blocks.0.attn.q.weight");
    second = file.load("blocks.0.attn.q.weight");
  }  // the reader is gone; the tensors still hold the mapping
  EXPECT_EQ(first.raw_data(), second.raw_data())
      << "two loads of an aligned tensor should share the mapped bytes";
  EXPECT_EQ(reinterpret_cast<uintptr_t>(first.raw_data()) % 4, 0u);
  const auto expected = testing::expected_tensors();
  EXPECT_EQ(testing::tensor_bytes(first), expected.front().second.bytes);
}

TEST(Safetensors, ConvertsWhenAskedForAnotherDType) {
  SafetensorsFile file(fixture("weights.safetensors"));
  const Tensor bf16 = file.load("blocks.0.attn.q.bias");
  const Tensor as_f32 = file.load("blocks.0.attn.q.bias", DType::f32);
  ASSERT_EQ(as_f32.dtype(), DType::f32);
  for (int64_t i = 0; i < bf16.numel(); ++i)
    EXPECT_EQ(as_f32.data<float>()[i], bf16_to_float(bf16.data_u16()[i]));

  const Tensor f32 = file.load("blocks.0.attn.q.weight");
  const Tensor as_bf16 = file.load("blocks.0.attn.q.weight", DType::bf16);
  EXPECT_FALSE(as_bf16.shares_storage_with(f32));
  for (int64_t i = 0; i < f32.numel(); ++i)
    EXPECT_EQ(as_bf16.data_u16()[i], float_to_bf16(f32.data<float>()[i]));
  EXPECT_EQ(file.load("blocks.0.attn.q.weight", DType::f32).raw_data(),
            f32.raw_data());  // same dtype: no copy
  EXPECT_EQ(file.load("empty", DType::bf16).numel(), 0);
}

TEST(Safetensors, ListsUnsupportedDTypesButRefusesToLoadThem) {
  SafetensorsFile file(fixture("unsupported_dtypes.safetensors"));
  EXPECT_EQ(file.names().size(), 4u);
  const TensorInfo info = file.info("double.weight");
  EXPECT_EQ(info.file_dtype, "F64");
  EXPECT_FALSE(info.dtype.has_value());
  EXPECT_EQ(info.bytes, 32u);
  EXPECT_EQ(file.info("bool.mask").file_dtype, "BOOL");
  expect_error([&] { file.load("double.weight"); }, {"tensor 'double.weight'", "dtype F64", "cannot load"});
  expect_error([&] { file.load("long.ids", DType::f32); }, {"'long.ids'", "I64"});
  EXPECT_EQ(file.load("ok.weight").numel(), 6);
}

TEST(Safetensors, UnknownTensorAndMissingFile) {
  SafetensorsFile file(fixture("weights.safetensors"));
  EXPECT_FALSE(file.contains("nope"));
  expect_error([&] { file.info("nope"); }, {"no tensor named 'nope'", "x2v inspect"});
  expect_error([] { SafetensorsFile missing("/nonexistent/model.safetensors"); },
               {"[safetensors]", "/nonexistent/model.safetensors", "no such file"});
}

TEST_F(SafetensorsCorruption, TruncatedAtEveryLength) {
  const std::vector<uint8_t> good = testing::read_bytes(fixture("weights.safetensors"));
  const std::string path = scratch_.file("cut.safetensors");
  for (size_t length = 0; length < good.size(); length += (length < 64 ? 1 : 23)) {
    testing::write_bytes(path, std::vector<uint8_t>(good.begin(), good.begin() + length));
    EXPECT_THROW(SafetensorsFile file(path), Error) << "length " << length;
  }
  expect_open_error(std::vector<uint8_t>(good.begin(), good.begin() + 5), {"too short"});
  expect_open_error(std::vector<uint8_t>(good.begin(), good.end() - 10), {"past the end of the file"});
}

TEST_F(SafetensorsCorruption, HeaderLengthPastTheEnd) {
  std::vector<uint8_t> bytes = testing::read_bytes(fixture("weights.safetensors"));
  const uint64_t too_long = bytes.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(too_long >> (8 * i));
  expect_open_error(bytes, {"header length", "larger than the file"});
  for (int i = 0; i < 8; ++i) bytes[i] = 0xff;
  expect_open_error(bytes, {"header length", "larger than the file"});
}

TEST_F(SafetensorsCorruption, HeaderIsNotJsonOrNotAnObject) {
  std::vector<uint8_t> bytes = testing::read_bytes(fixture("weights.safetensors"));
  ASSERT_EQ(bytes[8 + 15], ':');  // {"__metadata__":{...
  bytes[8 + 15] = ',';
  expect_open_error(bytes, {"header is not valid JSON"});
  expect_header_error("[1, 2, 3]", 0, {"not an object"});
  expect_header_error("", 0, {"not valid JSON"});
}

TEST_F(SafetensorsCorruption, MissingOrMalformedFields) {
  expect_header_error(R"({"w": {"shape": [2], "data_offsets": [0, 8]}})", 8, {"tensor 'w'", "no \"dtype\""});
  expect_header_error(R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", 8, {"no \"shape\""});
  expect_header_error(R"({"w": {"dtype": "F32", "shape": [2]}})", 8, {"no \"data_offsets\""});
  expect_header_error(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", 8, {"[begin, end]"});
  expect_header_error(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": "0-8"}})", 8, {"[begin, end]"});
  expect_header_error(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8, {"end < begin"});
  expect_header_error(R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8,
                      {"non-negative"});
  expect_header_error(R"({"w": {"dtype": "F7", "shape": [2], "data_offsets": [0, 8]}})", 8,
                      {"unknown dtype 'F7'"});
  expect_header_error(R"({"w": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})", 8, {"not a string"});
  expect_header_error(R"({"w": [1, 2]})", 8, {"tensor 'w'", "not an object"});
  expect_header_error(R"({"__metadata__": [1], "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
                      8, {"__metadata__"});
  expect_header_error(
      R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 8]}})", 8,
      {"too large"});
}

TEST_F(SafetensorsCorruption, WrongSizeDataPastEndAndOverlap) {
  expect_header_error(R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", 24,
                      {"tensor 'w'", "20 bytes of data", "needs 24"});
  expect_header_error(R"({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 24]}})", 24,
                      {"needs 12"});
  expect_header_error(R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}})", 16,
                      {"tensor 'w'", "past the end of the file"});
  expect_header_error(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                          "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})",
                      24, {"'a'", "'b'", "overlap"});
}

TEST_F(SafetensorsCorruption, ValidHandWrittenFileWithMetadataAndUnalignedData) {
  // Header of odd length: data starts unaligned, so loads copy instead of borrowing (no UB for UBSan).
  const std::string header =
      R"({"__metadata__": {"k": "v", "n": 3}, "x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  ASSERT_NE((8 + header.size()) % 4, 0u);
  const float values[2] = {1.5f, -2.25f};
  std::vector<uint8_t> data(8);
  std::memcpy(data.data(), values, 8);
  const std::string path = scratch_.file("odd.safetensors");
  testing::write_bytes(path, make_file(header, data));
  SafetensorsFile file(path);
  EXPECT_EQ(file.metadata().at("k"), "v");
  EXPECT_EQ(file.metadata().at("n"), "3");
  const Tensor loaded = file.load("x");
  EXPECT_EQ(loaded.to_floats(), (std::vector<float>{1.5f, -2.25f}));
  EXPECT_EQ(file.load("x", DType::bf16).to_floats(), (std::vector<float>{1.5f, -2.25f}));
}

TEST_F(SafetensorsCorruption, RandomHeaderDamageNeverCrashes) {
  const std::vector<uint8_t> good = testing::read_bytes(fixture("weights.safetensors"));
  const uint64_t header_bytes = good[0] | (good[1] << 8) | (good[2] << 16);
  const std::string path = scratch_.file("fuzz.safetensors");
  std::mt19937 random(7);
  int failures = 0;
  for (int round = 0; round < 150; ++round) {
    std::vector<uint8_t> bytes = good;
    for (int flip = 0; flip < 3; ++flip)
      bytes[8 + random() % header_bytes] = "{}[],:\"0123456789-eE"[random() % 20];
    testing::write_bytes(path, bytes);
    try {
      SafetensorsFile file(path);
      for (const std::string& name : file.names())
        if (file.info(name).dtype) file.load(name, DType::f32);
    } catch (const Error&) {
      ++failures;
    }
  }
  EXPECT_GT(failures, 100);  // nearly every damaged header is refused; none may crash
}

}  // namespace
}  // namespace x2v::io
