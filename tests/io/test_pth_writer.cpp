// The torch.save writer: round trips of every dtype through x2v's reader (plain and zip64 layouts), the
// archive layout torch relies on (aligned stored entries, valid CRCs), atomic replacement, and the files
// that tools/reference/check_pth_writer.py loads with torch.load.
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <iostream>
#include <tuple>

#include "io/checkpoint.h"
#include "io/mapped_file.h"
#include "io/pth_writer.h"
#include "io/zip_archive.h"
#include "io_test_util.h"

namespace x2v::io {
namespace {

using testing::expect_error;
using Tensors = std::vector<std::pair<std::string, Tensor>>;

// Element `k` of tensor number `t`; tools/reference/check_pth_writer.py recomputes the same values.
int64_t seed_value(int64_t t, int64_t k) {
  return k * 37 + t * 11;
}

Tensor formula_tensor(int64_t t, DType dtype, const Shape& shape) {
  const int64_t count = shape_numel(shape);
  if (dtype == DType::i32 || dtype == DType::i8 || dtype == DType::u8) {
    Tensor tensor = Tensor::host(shape, dtype);
    for (int64_t k = 0; k < count; ++k) {
      const int64_t v = seed_value(t, k);
      if (dtype == DType::i32) tensor.data<int32_t>()[k] = static_cast<int32_t>(v * 104729 - 50000000);
      if (dtype == DType::i8) tensor.data<int8_t>()[k] = static_cast<int8_t>(v % 256 - 128);
      if (dtype == DType::u8) tensor.data<uint8_t>()[k] = static_cast<uint8_t>(v % 256);
    }
    return tensor;
  }
  // Multiples of 1/7 in float32: most round when narrowed, so the narrow dtypes' rounding is checked too.
  std::vector<float> values(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k)
    values[static_cast<size_t>(k)] = static_cast<float>(seed_value(t, k) % 101 - 50) / 7.0f;
  return Tensor::host_from(values, shape, dtype);
}

// Every x2v dtype, a scalar, an empty tensor and a strided (transposed) input. The python check knows
// this list: keep the two in step.
Tensors formula_tensors() {
  const std::vector<std::tuple<std::string, DType, Shape>> specs = {
      {"blocks.0.weight", DType::f32, {4, 5}},
      {"blocks.0.bias", DType::bf16, {7}},
      {"half", DType::f16, {2, 3, 4}},
      {"e4m3", DType::f8_e4m3, {3, 5}},
      {"e5m2", DType::f8_e5m2, {6}},
      {"int8", DType::i8, {2, 8}},
      {"int32", DType::i32, {3, 3}},
      {"uint8", DType::u8, {300}},
      {"scalar", DType::f32, {}},
      {"empty", DType::bf16, {0, 3}},
      {"transposed", DType::f32, {4, 5}},
  };
  Tensors tensors;
  for (size_t t = 0; t < specs.size(); ++t) {
    const auto& [name, dtype, shape] = specs[t];
    Tensor tensor = formula_tensor(static_cast<int64_t>(t), dtype, shape);
    if (name == "transposed") tensor = tensor.transpose(0, 1);
    tensors.emplace_back(name, tensor);
  }
  return tensors;
}

void expect_round_trip(const std::string& path, const Tensors& tensors) {
  const auto checkpoint = open_checkpoint(path);
  EXPECT_EQ(checkpoint->format(), "pth");
  ASSERT_EQ(checkpoint->names().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = tensors[i];
    SCOPED_TRACE(name);
    EXPECT_EQ(checkpoint->names()[i], name) << "file order is the caller's order";
    const Tensor loaded = checkpoint->load(name);
    EXPECT_EQ(loaded.dtype(), tensor.dtype());
    EXPECT_EQ(loaded.shape(), tensor.shape());
    EXPECT_EQ(testing::tensor_bytes(loaded), testing::tensor_bytes(tensor));
  }
}

TEST(PthWriter, RoundTripsEveryDtype) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("weights.pth");
  const Tensors tensors = formula_tensors();
  ASSERT_FALSE(tensors.back().second.is_contiguous());
  write_pth(path, tensors);
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"weights.pth"});
  expect_round_trip(path, tensors);
}

TEST(PthWriter, Zip64LayoutRoundTrips) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("big.pth");
  const Tensors tensors = formula_tensors();
  detail::write_pth(path, tensors, 0);  // every size and offset through zip64 fields
  expect_round_trip(path, tensors);
  const std::vector<uint8_t> bytes = testing::read_bytes(path);
  // The end record's 32-bit directory offset is saturated: readers must take the zip64 record.
  ASSERT_GE(bytes.size(), 22u);
  EXPECT_EQ(read_le32(&bytes[bytes.size() - 22]), 0x06054b50u);
  EXPECT_EQ(read_le32(&bytes[bytes.size() - 6]), 0xffffffffu);
}

TEST(PthWriter, EntriesAreStoredAlignedAndCrcChecked) {
  testing::ScratchDir scratch;
  for (const uint64_t zip64_from : {uint64_t{0xffffffff}, uint64_t{0}}) {
    const std::string path = scratch.file(concat("layout", zip64_from, ".pth"));
    const Tensors tensors = formula_tensors();
    detail::write_pth(path, tensors, zip64_from);
    ZipArchive archive(MappedFile::open(path, "test"), "test");
    const std::string folder = concat("layout", zip64_from, "/");
    std::vector<std::string> names;
    for (const ZipArchive::Entry& entry : archive.entries()) {
      SCOPED_TRACE(entry.name);
      names.push_back(entry.name);
      EXPECT_EQ(entry.method, 0);
      EXPECT_EQ(entry.data_offset % 64, 0u);
      archive.verify_crc(entry);
    }
    std::vector<std::string> expected = {folder + "data.pkl", folder + "byteorder"};
    for (size_t key = 0; key < tensors.size(); ++key) expected.push_back(concat(folder, "data/", key));
    expected.push_back(folder + "version");
    expected.push_back(folder + ".data/serialization_id");
    EXPECT_EQ(names, expected);
    const ZipArchive::Entry* byteorder = archive.find(folder + "byteorder");
    ASSERT_NE(byteorder, nullptr);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(archive.stored_data(*byteorder)), byteorder->size),
              "little");
    // Each tensor has its own storage of exactly its bytes.
    const ZipArchive::Entry* half = archive.find(folder + "data/2");
    ASSERT_NE(half, nullptr);
    EXPECT_EQ(half->size, 2u * 3 * 4 * 2);
  }
}

// The serialization id is a digest of the content, so saving the same tensors twice gives the same file.
TEST(PthWriter, SameContentSameBytes) {
  testing::ScratchDir scratch;
  std::filesystem::create_directories(scratch.file("a"));
  std::filesystem::create_directories(scratch.file("b"));
  write_pth(scratch.file("a/w.pth"), formula_tensors());
  write_pth(scratch.file("b/w.pth"), formula_tensors());
  EXPECT_EQ(testing::read_bytes(scratch.file("a/w.pth")), testing::read_bytes(scratch.file("b/w.pth")));
  write_pth(scratch.file("b/w.pth"), {{"other", Tensor::host_from({1}, {1})}});
  EXPECT_NE(testing::read_bytes(scratch.file("a/w.pth")), testing::read_bytes(scratch.file("b/w.pth")));
}

TEST(PthWriter, EmptyStateDict) {
  testing::ScratchDir scratch;
  write_pth(scratch.file("empty.pth"), {});
  EXPECT_TRUE(open_checkpoint(scratch.file("empty.pth"))->names().empty());
}

TEST(PthWriter, RejectsBadInputBeforeCreatingAnything) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("bad.pth");
  const Tensor tensor = Tensor::host_from({1, 2}, {2});
  expect_error([&] { write_pth(path, {{"a", tensor}, {"a", tensor}}); }, {path, "'a'", "twice"});
  expect_error([&] { write_pth(path, {{"a", Tensor()}}); }, {path, "'a'", "undefined"});
  expect_error(
      [&] {
        write_pth(scratch.file("no/such/dir/x.pth"), {{"a", tensor}});
      },
      {"no/such/dir/x.pth", "cannot create a temporary file", "folder exists"});
  expect_error([&] { write_pth("", {{"a", tensor}}); }, {"empty"});
  EXPECT_TRUE(scratch.listing().empty());
}

// A write that fails half way (the file size limit stands in for a full disk) keeps the old file and
// leaves no temporary file.
TEST(PthWriter, FailedWriteLeavesNoTemporaryFileAndKeepsTheOldOne) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("model.pth");
  write_pth(path, {{"small", Tensor::host_from({1, 2, 3}, {3})}});
  const std::vector<uint8_t> before = testing::read_bytes(path);

  const Tensor big = Tensor::host({64, 1024}, DType::f32);  // 256 KiB
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 64 * 1024;
  auto* previous_handler = signal(SIGXFSZ, SIG_IGN);  // write() fails with EFBIG instead of a signal
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string message;
  try {
    write_pth(path, {{"big", big}});
  } catch (const Error& error) {
    message = error.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, previous_handler);

  EXPECT_NE(message.find("cannot write"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"model.pth"});
  EXPECT_EQ(testing::read_bytes(path), before);
}

// Leaves the two layouts in the build folder for tools/reference/check_pth_writer.py (torch.load).
TEST(PthWriter, WritesFilesForTheTorchCheck) {
  const std::filesystem::path folder = std::filesystem::path(X2V_BINARY_DIR) / "pth_writer_check";
  std::filesystem::create_directories(folder);
  const Tensors tensors = formula_tensors();
  write_pth((folder / "x2v_written.pth").string(), tensors);
  detail::write_pth((folder / "x2v_written_zip64.pth").string(), tensors, 0);
  std::cout << "check with torch: python3 tools/reference/check_pth_writer.py "
            << (folder / "x2v_written.pth") << " " << (folder / "x2v_written_zip64.pth") << "\n";
}

}  // namespace
}  // namespace x2v::io
