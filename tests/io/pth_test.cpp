// The torch.save reader against archives torch wrote (plain, nested, zip64, pickle protocol 4), against
// the same weights in safetensors, and against damaged or malicious archives.
#include "io/pth.h"

#include <random>

#include "io/safetensors.h"
#include "io_test_util.h"

namespace x2v::io {
namespace {

using testing::expect_error;
using testing::fixture;

// A stored (uncompressed) zip of the given entries, enough to wrap hand-written pickles.
std::vector<uint8_t> make_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::vector<uint8_t> out, directory;
  auto put16 = [](std::vector<uint8_t>& bytes, uint32_t value) {
    bytes.push_back(value & 0xff);
    bytes.push_back((value >> 8) & 0xff);
  };
  auto put32 = [&](std::vector<uint8_t>& bytes, uint32_t value) {
    put16(bytes, value & 0xffff);
    put16(bytes, value >> 16);
  };
  for (const auto& [name, data] : entries) {
    const uint32_t offset = static_cast<uint32_t>(out.size());
    const uint32_t crc = crc32(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    put32(out, 0x04034b50);
    for (uint32_t field : {20u, 0u, 0u, 0u, 0u}) put16(out, field);  // version, flags, method, time, date
    put32(out, crc);
    put32(out, static_cast<uint32_t>(data.size()));
    put32(out, static_cast<uint32_t>(data.size()));
    put16(out, static_cast<uint32_t>(name.size()));
    put16(out, 0);
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), data.begin(), data.end());
    put32(directory, 0x02014b50);
    for (uint32_t field : {20u, 20u, 0u, 0u, 0u, 0u}) put16(directory, field);
    put32(directory, crc);
    put32(directory, static_cast<uint32_t>(data.size()));
    put32(directory, static_cast<uint32_t>(data.size()));
    put16(directory, static_cast<uint32_t>(name.size()));
    for (uint32_t field : {0u, 0u, 0u, 0u}) put16(directory, field);  // extra, comment, disk, attributes
    put32(directory, 0);
    put32(directory, offset);
    directory.insert(directory.end(), name.begin(), name.end());
  }
  const uint32_t directory_offset = static_cast<uint32_t>(out.size());
  out.insert(out.end(), directory.begin(), directory.end());
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint32_t>(entries.size()));
  put16(out, static_cast<uint32_t>(entries.size()));
  put32(out, static_cast<uint32_t>(directory.size()));
  put32(out, directory_offset);
  put16(out, 0);
  return out;
}

// Offset of the central directory record of `name` in a zip's bytes.
size_t central_record(const std::vector<uint8_t>& zip, const std::string& name) {
  for (size_t i = 0; i + 46 <= zip.size(); ++i) {
    if (read_le32(&zip[i]) != 0x02014b50) continue;
    const uint16_t length = read_le16(&zip[i + 28]);
    if (std::string(zip.begin() + i + 46, zip.begin() + i + 46 + length) == name) return i;
  }
  ADD_FAILURE() << "no central record for " << name;
  return 0;
}

class PthDamage : public ::testing::Test {
 protected:
  void expect_open_error(const std::vector<uint8_t>& bytes, const std::vector<std::string>& parts) {
    const std::string path = scratch_.file("weights.pth");
    testing::write_bytes(path, bytes);
    std::vector<std::string> all = parts;
    all.push_back(path);
    expect_error([&] { PthFile file(path); }, all);
  }
  testing::ScratchDir scratch_;
};

void expect_same_tensors(const Checkpoint& actual, const Checkpoint& reference) {
  ASSERT_EQ(actual.names().size(), reference.names().size());
  for (const std::string& name : reference.names()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(actual.contains(name));
    const TensorInfo a = actual.info(name), b = reference.info(name);
    EXPECT_EQ(a.dtype, b.dtype);
    EXPECT_EQ(a.shape, b.shape);
    EXPECT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(testing::tensor_bytes(actual.load(name)), testing::tensor_bytes(reference.load(name)));
  }
}

TEST(Pth, BitIdenticalToSafetensorsAndToTorch) {
  PthFile pth(fixture("weights.pth"));
  SafetensorsFile safetensors(fixture("weights.safetensors"));
  expect_same_tensors(pth, safetensors);
  const auto expected = testing::expected_tensors();
  ASSERT_EQ(pth.names().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [name, reference] = expected[i];
    SCOPED_TRACE(name);
    EXPECT_EQ(pth.names()[i], name) << "names keep the state dict's order";
    EXPECT_EQ(pth.info(name).file_dtype, reference.torch_dtype);
    EXPECT_EQ(testing::tensor_bytes(pth.load(name)), reference.bytes);
  }
  EXPECT_TRUE(pth.note().empty());
}

TEST(Pth, EveryVariantTorchWritesReadsTheSame) {
  PthFile reference(fixture("weights.pth"));
  for (const char* name : {"weights_nested.pth", "weights_zip64.pth", "weights_protocol4.pth"}) {
    SCOPED_TRACE(name);
    PthFile variant(fixture(name));
    expect_same_tensors(variant, reference);
  }
  PthFile nested(fixture("weights_nested.pth"));
  EXPECT_NE(nested.note().find("nested under 'state_dict'"), std::string::npos) << nested.note();
  EXPECT_NE(nested.note().find("skipped 4 non-tensor entries"), std::string::npos) << nested.note();
}

TEST(Pth, ContiguousTensorsAreBorrowedStridedOnesCopied) {
  Tensor weight, again, transposed;
  {
    PthFile file(fixture("weights.pth"));
    weight = file.load("blocks.0.attn.q.weight");
    again = file.load("blocks.0.attn.q.weight");
    transposed = file.load("head.transposed");
  }
  EXPECT_EQ(weight.raw_data(), again.raw_data());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(weight.raw_data()) % 64, 0u) << "torch aligns storages to 64 bytes";
  EXPECT_TRUE(transposed.is_contiguous());
  EXPECT_EQ(transposed.shape(), (Shape{5, 6}));
  for (const auto& [name, reference] : testing::expected_tensors())
    if (name == "head.transposed") {
      EXPECT_EQ(testing::tensor_bytes(transposed), reference.bytes);
    }
  EXPECT_EQ(testing::tensor_bytes(weight), testing::expected_tensors().front().second.bytes);
}

TEST(Pth, ConvertsOnRequest) {
  PthFile file(fixture("weights.pth"));
  const Tensor fp8 = file.load("blocks.0.ffn.2.weight");
  const Tensor as_f32 = file.load("blocks.0.ffn.2.weight", DType::f32);
  for (int64_t i = 0; i < fp8.numel(); ++i)
    EXPECT_EQ(as_f32.data<float>()[i], f8_e4m3_to_float(fp8.data_u8()[i]));
  const Tensor rows = file.load("head.rows", DType::bf16);  // offset view of a shared storage, converted
  const std::vector<float> base = file.load("head.base").to_floats();
  for (int64_t i = 0; i < rows.numel(); ++i) EXPECT_EQ(rows.data_u16()[i], float_to_bf16(base[5 + i]));
}

// Pickle building blocks for hand-written pickles.
std::string raw(std::initializer_list<int> bytes) {
  std::string text;
  for (int byte : bytes) text.push_back(static_cast<char>(byte));
  return text;
}
std::string unicode(const std::string& text) {  // BINUNICODE
  const uint32_t size = static_cast<uint32_t>(text.size());
  return "X" + raw({int(size & 0xff), int((size >> 8) & 0xff), int((size >> 16) & 0xff), int(size >> 24)}) +
         text;
}
const std::string kHeader = raw({0x80, 0x02});

TEST(Pth, RefusesForbiddenGlobalsWithoutRunningThem) {
  expect_error([] { PthFile file(fixture("forbidden_global.pth")); },
               {"[pth]", "forbidden_global.pth", "refusing pickle global 'posix.system'",
                "only state_dict tensors can be loaded"});
  testing::ScratchDir scratch;
  const std::string path = scratch.file("eval.pth");
  // {'w': builtins.eval('1')} in protocol 2.
  const std::string pickle =
      kHeader + "}" + unicode("w") + "cbuiltins\neval\n" + unicode("1") + raw({0x85}) + "Rs.";
  testing::write_bytes(path, make_zip({{"eval/data.pkl", pickle}}));
  expect_error([&] { PthFile file(path); }, {"refusing pickle global 'builtins.eval'"});
}

TEST(Pth, ListsUnsupportedDTypesButRefusesToLoadThem) {
  PthFile file(fixture("unsupported_dtypes.pth"));
  EXPECT_EQ(file.names(), (std::vector<std::string>{"ok.weight", "double.weight", "long.ids", "bool.mask"}));
  EXPECT_EQ(file.info("double.weight").file_dtype, "float64");
  EXPECT_EQ(file.info("long.ids").bytes, 24u);
  expect_error([&] { file.load("double.weight"); }, {"tensor 'double.weight'", "float64", "cannot load"});
  expect_error([&] { file.load("bool.mask", DType::u8); }, {"'bool.mask'", "bool"});
  EXPECT_EQ(file.load("ok.weight").numel(), 6);
}

TEST(Pth, HandWrittenPicklesOutsideTheStateDictShape) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("hand.pth");
  auto open_pickle = [&](const std::string& pickle) {
    testing::write_bytes(path, make_zip({{"hand/data.pkl", pickle}}));
    return std::make_unique<PthFile>(path);
  };
  // A top-level list is not a state dict.
  expect_error([&] { open_pickle(kHeader + "]q" + raw({0}) + "."); }, {"holds a list", "state_dict"});
  // An empty dict is an empty checkpoint.
  EXPECT_TRUE(open_pickle(kHeader + "}.")->names().empty());
  // A list that contains itself (through the memo) must not leak or loop.
  expect_error([&] { open_pickle(kHeader + "]q" + raw({0}) + "h" + raw({0}) + "a."); }, {"holds a list"});
  // Opcodes of text protocols are refused.
  expect_error([&] { open_pickle(kHeader + "(i__main__\nX\n."); }, {"opcode 0x69", "not supported"});
  // Cut short, or reading what was never written.
  expect_error([&] { open_pickle(kHeader + "X" + raw({0xff, 0, 0, 0}) + "ab"); }, {"ends inside an opcode"});
  expect_error([&] { open_pickle(kHeader + "h" + raw({5}) + "."); }, {"memo entry 5"});
  expect_error([&] { open_pickle(kHeader + "s."); }, {"empty stack"});
  expect_error([&] { open_pickle(kHeader + "}}."); }, {"values left on its stack"});
  // A tensor whose storage entry is missing from the archive.
  const std::string tensor_pickle = kHeader + "}" + unicode("w") + "ctorch._utils\n_rebuild_tensor_v2\n((" +
                                    unicode("storage") + "ctorch\nFloatStorage\n" + unicode("0") +
                                    unicode("cpu") + "K" + raw({4}) + "tQK" + raw({0}) + "K" +
                                    raw({4, 0x85}) + "K" + raw({1, 0x85, 0x89}) + "}tRs.";
  expect_error([&] { open_pickle(tensor_pickle); }, {"tensor 'w'", "storage '0'", "lacks"});

  // The same tensor with its storage: w = storage[offset:offset + 4], checked against the storage size.
  auto tensor_at = [&](int offset) {
    return kHeader + "}" + unicode("w") + "ctorch._utils\n_rebuild_tensor_v2\n((" + unicode("storage") +
           "ctorch\nFloatStorage\n" + unicode("0") + unicode("cpu") + "K" + raw({4}) + "tQK" + raw({offset}) +
           "K" + raw({4, 0x85}) + "K" + raw({1, 0x85, 0x89}) + "}tRs.";
  };
  const float values[4] = {1.0f, -2.0f, 3.5f, 0.25f};
  const std::string storage(reinterpret_cast<const char*>(values), sizeof(values));
  testing::write_bytes(path, make_zip({{"hand/data.pkl", tensor_at(0)}, {"hand/data/0", storage}}));
  EXPECT_EQ(PthFile(path).load("w").to_floats(), (std::vector<float>{1.0f, -2.0f, 3.5f, 0.25f}));
  testing::write_bytes(path, make_zip({{"hand/data.pkl", tensor_at(1)}, {"hand/data/0", storage}}));
  expect_error([&] { PthFile file(path); },
               {"tensor 'w'", "offset 1", "does not fit its storage of 4 elements"});
}

TEST_F(PthDamage, NotZipLegacyAndTruncated) {
  expect_open_error({'h', 'e', 'l', 'l', 'o'}, {"not a zip archive"});
  expect_open_error({0x80, 0x02, 0x8a, 0x0a}, {"legacy torch.save format"});
  const std::vector<uint8_t> good = testing::read_bytes(fixture("weights.pth"));
  const std::string path = scratch_.file("cut.pth");
  for (size_t length = 0; length < good.size(); length += 37) {
    testing::write_bytes(path, std::vector<uint8_t>(good.begin(), good.begin() + length));
    EXPECT_THROW(PthFile file(path), Error) << "length " << length;
  }
  expect_open_error(std::vector<uint8_t>(good.begin(), good.end() - 30), {"end-of-central-directory"});
}

TEST_F(PthDamage, CompressedEntryBadCrcMissingAndShortStorage) {
  const std::vector<uint8_t> good = testing::read_bytes(fixture("weights.pth"));

  std::vector<uint8_t> bytes = good;
  bytes[central_record(bytes, "weights/data.pkl") + 10] = 8;  // method: deflate
  expect_open_error(bytes, {"entry 'weights/data.pkl' is compressed", "torch.save"});

  bytes = good;
  bytes[central_record(bytes, "weights/data/3") + 10] = 8;
  expect_open_error(bytes, {"'weights/data/3' is compressed"});

  bytes = good;
  bytes[central_record(bytes, "weights/data.pkl") + 16] ^= 0x5a;  // CRC
  expect_open_error(bytes, {"CRC-32"});

  bytes = good;
  bytes[central_record(bytes, "weights/data/0") + 46 + 13] = 'Z';  // rename weights/data/0 -> weights/data/Z
  expect_open_error(bytes, {"storage '0'", "lacks"});

  bytes = good;
  const size_t record = central_record(bytes, "weights/data/0");
  for (size_t field : {20u, 24u}) bytes[record + field] = 8, bytes[record + field + 1] = 0;  // 8 bytes
  expect_open_error(bytes, {"storage '0'", "archive holds 8"});

  bytes = good;
  bytes[central_record(bytes, "weights/data/0") + 42] = 0xf0;  // local header offset -> nowhere
  expect_open_error(bytes, {"local header"});
}

TEST_F(PthDamage, RandomPickleDamageNeverCrashes) {
  const std::vector<uint8_t> good = testing::read_bytes(fixture("weights.pth"));
  const size_t record = central_record(good, "weights/data.pkl");
  const uint32_t pickle_size = read_le32(&good[record + 24]);
  const size_t local = read_le32(&good[record + 42]);
  const size_t start = local + 30 + read_le16(&good[local + 26]) + read_le16(&good[local + 28]);
  const std::string path = scratch_.file("fuzz.pth");
  std::mt19937 random(11);
  int refused = 0;
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> bytes = good;
    for (int flip = 0; flip < 2; ++flip) bytes[start + 2 + random() % (pickle_size - 2)] = random() & 0xff;
    const uint32_t crc = crc32(&bytes[start], pickle_size);  // keep the CRC right so the pickle is parsed
    for (int i = 0; i < 4; ++i) bytes[record + 16 + i] = bytes[local + 14 + i] = (crc >> (8 * i)) & 0xff;
    testing::write_bytes(path, bytes);
    try {
      PthFile file(path);
      for (const std::string& name : file.names())
        if (file.info(name).dtype) file.load(name, DType::f32);
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 50);
}

}  // namespace
}  // namespace x2v::io
