#pragma once
// Shared helpers of the io tests: fixture paths, scratch directories, byte-level file edits, and the
// torch-written reference values (expected.json).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace x2v::io::testing {

inline std::string fixture(const std::string& name) {
  return std::string(X2V_FIXTURES_DIR) + "/io/" + name;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  EXPECT_TRUE(stream.good()) << path;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(stream), {});
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(stream.good()) << path;
}

inline std::string read_text(const std::string& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

// A fresh directory under the system temp dir, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("x2v-io-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
             (info ? std::string(info->name()) : std::string("test")));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_))
      names.push_back(entry.path().filename().string());
    return names;
  }

 private:
  std::filesystem::path path_;
};

// Runs `action`, expects an x2v::Error whose message contains every one of `parts`.
template <class Action>
void expect_error(Action&& action, const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "expected an x2v::Error containing '" << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const std::string& part : parts)
      EXPECT_NE(message.find(part), std::string::npos) << message << "\n  lacks: " << part;
  }
}

// What torch wrote: name -> {dtype (torch name), shape, hex of the contiguous little-endian bytes}.
struct ExpectedTensor {
  std::string torch_dtype;
  Shape shape;
  std::vector<uint8_t> bytes;
};

inline std::vector<std::pair<std::string, ExpectedTensor>> expected_tensors() {
  const nlohmann::ordered_json json = nlohmann::ordered_json::parse(read_text(fixture("expected.json")));
  std::vector<std::pair<std::string, ExpectedTensor>> result;
  for (const auto& [name, value] : json.items()) {
    ExpectedTensor tensor;
    tensor.torch_dtype = value["dtype"].get<std::string>();
    tensor.shape = value["shape"].get<Shape>();
    const std::string hex = value["hex"].get<std::string>();
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
      tensor.bytes.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    result.emplace_back(name, std::move(tensor));
  }
  return result;
}

// The bytes of a tensor in logical (row-major) order, whatever its strides.
inline std::vector<uint8_t> tensor_bytes(const Tensor& tensor) {
  const Tensor contiguous = tensor.is_contiguous() ? tensor : tensor.to_host(tensor.dtype());
  const uint8_t* data = static_cast<const uint8_t*>(contiguous.raw_data());
  return data ? std::vector<uint8_t>(data, data + contiguous.nbytes()) : std::vector<uint8_t>();
}

}  // namespace x2v::io::testing
