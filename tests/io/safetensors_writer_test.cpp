// The safetensors writer: round trips against torch's values, the file layout the format requires,
// and atomic replacement (no temporary file left behind, an existing file untouched on failure).
#include <signal.h>
#include <sys/resource.h>

#include "io/pth.h"
#include "io/safetensors.h"
#include "io_test_util.h"

namespace x2v::io {
namespace {

using testing::expect_error;
using testing::fixture;

// Every tensor of weights.pth, strided ones included, as the writer's input.
std::vector<std::pair<std::string, Tensor>> torch_tensors() {
  PthFile source(fixture("weights.pth"));
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const std::string& name : source.names()) {
    tensors.emplace_back(name, source.load(name));
  }
  // A genuinely strided input: the transpose of a contiguous tensor.
  tensors.emplace_back("head.base_t", source.load("head.base").transpose(0, 1));
  return tensors;
}

TEST(SafetensorsWriter, RoundTripsTorchValues) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("out.safetensors");
  const auto tensors = torch_tensors();
  ASSERT_FALSE(tensors.back().second.is_contiguous());
  write_safetensors(path, tensors, {{"format", "pt"}, {"written_by", "x2v"}});
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"out.safetensors"});

  SafetensorsFile file(path);
  ASSERT_EQ(file.names().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i)
    EXPECT_EQ(file.names()[i], tensors[i].first) << "header keeps the order";
  EXPECT_EQ(file.metadata().at("written_by"), "x2v");
  for (const auto& [name, reference] : testing::expected_tensors()) {
    SCOPED_TRACE(name);
    const Tensor loaded = file.load(name);
    EXPECT_EQ(loaded.shape(), reference.shape);
    EXPECT_EQ(testing::tensor_bytes(loaded), reference.bytes);
  }
  // head.base_t holds head.base transposed: element [j][i] == base[i][j].
  const std::vector<float> base = file.load("head.base").to_floats();
  const std::vector<float> transposed = file.load("head.base_t").to_floats();
  ASSERT_EQ(file.info("head.base_t").shape, (Shape{5, 4}));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j) EXPECT_EQ(transposed[j * 4 + i], base[i * 5 + j]);
}

TEST(SafetensorsWriter, LayoutFollowsTheFormat) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("layout.safetensors");
  write_safetensors(path, torch_tensors());
  const std::vector<uint8_t> bytes = testing::read_bytes(path);
  uint64_t header_bytes = 0;
  for (int i = 0; i < 8; ++i) header_bytes |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  EXPECT_EQ(header_bytes % 8, 0u) << "header padded to 8 bytes";
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + header_bytes);
  EXPECT_EQ(header.find_last_not_of(' ') + 1, header.find_last_of('}') + 1) << "padding is spaces";
  const auto json = nlohmann::json::parse(header);
  EXPECT_FALSE(json.contains("__metadata__"));
  // Tensors tile the data area exactly, each aligned to its element size.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : json.items()) {
    const uint64_t begin = entry["data_offsets"][0], end = entry["data_offsets"][1];
    DType dtype;
    ASSERT_TRUE(parse_dtype(entry["dtype"].get<std::string>(), &dtype));
    EXPECT_EQ(begin % dtype_size(dtype), 0u) << name;
    ranges.emplace_back(begin, end);
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t cursor = 0;
  for (const auto& [begin, end] : ranges) {
    EXPECT_EQ(begin, cursor);
    cursor = end;
  }
  EXPECT_EQ(8 + header_bytes + cursor, bytes.size());
}

TEST(SafetensorsWriter, RejectsBadInputBeforeCreatingAnything) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("bad.safetensors");
  const Tensor tensor = Tensor::host_from({1, 2}, {2});
  expect_error([&] { write_safetensors(path, {{"a", tensor}, {"a", tensor}}); }, {"'a'", "twice"});
  expect_error([&] { write_safetensors(path, {{"a", Tensor()}}); }, {"'a'", "undefined"});
  expect_error([&] { write_safetensors(path, {{"__metadata__", tensor}}); }, {"cannot name a tensor"});
  expect_error(
      [&] {
        write_safetensors(scratch.file("no/such/dir/x.safetensors"), {{"a", tensor}});
      },
      {"cannot create a temporary file"});
  EXPECT_TRUE(scratch.listing().empty());
}

// A write that fails half way (the file size limit stands in for a full disk) leaves the previous file
// as it was and no temporary file.
TEST(SafetensorsWriter, FailedWriteLeavesNoTemporaryFileAndKeepsTheOldOne) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("model.safetensors");
  write_safetensors(path, {{"small", Tensor::host_from({1, 2, 3}, {3})}});
  const std::vector<uint8_t> before = testing::read_bytes(path);

  const Tensor big = Tensor::host({64, 1024}, DType::f32);  // 256 KiB
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 64 * 1024;
  auto* previous_handler = signal(SIGXFSZ, SIG_IGN);  // make write() fail with EFBIG instead of a signal
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string message;
  try {
    write_safetensors(path, {{"big", big}});
  } catch (const Error& error) {
    message = error.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, previous_handler);

  EXPECT_NE(message.find("cannot write"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(testing::read_bytes(path), before);
}

}  // namespace
}  // namespace x2v::io
