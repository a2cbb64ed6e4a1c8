// `x2v inspect` as a user runs it: output lines and exit status (2 with one line on user errors).
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "io_test_util.h"

namespace x2v::io {
namespace {

struct RunResult {
  int status = -1;
  std::string out, err;
};

RunResult run_x2v(const std::string& arguments) {
  const std::string binary = std::string(X2V_BINARY_DIR) + "/x2v";
  testing::ScratchDir scratch;
  const std::string out = scratch.file("out"), err = scratch.file("err");
  const std::string command = "'" + binary + "' " + arguments + " > '" + out + "' 2> '" + err + "'";
  const int raw = std::system(command.c_str());
  RunResult result;
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  result.out = testing::read_text(out);
  result.err = testing::read_text(err);
  return result;
}

size_t count_lines(const std::string& text) {
  return std::count(text.begin(), text.end(), '\n');
}

class InspectCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(X2V_BINARY_DIR) + "/x2v"))
      GTEST_SKIP() << "x2v binary not built";
  }
};

TEST_F(InspectCommand, ListsTensorsAndTotals) {
  const RunResult result = run_x2v("inspect '" + testing::fixture("weights.pth") + "'");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("blocks.0.attn.q.weight       f32      [8, 6]  192\n"), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("blocks.0.ffn.2.weight        f8_e4m3  [4, 8]  32\n"), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("14 tensors, 580 bytes (580 B)\n"), std::string::npos) << result.out;
  EXPECT_EQ(count_lines(result.out), 14u + 3u);  // title, column names, 14 tensors, total

  const RunResult unsupported =
      run_x2v("inspect '" + testing::fixture("unsupported_dtypes.safetensors") + "'");
  EXPECT_EQ(unsupported.status, 0) << unsupported.err;
  EXPECT_NE(unsupported.out.find("F64 (unsupported)"), std::string::npos) << unsupported.out;
}

TEST_F(InspectCommand, UserErrorsExitWithStatusTwoAndOneLine) {
  for (const std::string& path :
       {std::string("/nonexistent/model.safetensors"), testing::fixture("forbidden_global.pth")}) {
    const RunResult result = run_x2v("inspect '" + path + "'");
    EXPECT_EQ(result.status, 2) << path;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;
    EXPECT_EQ(result.err.rfind("x2v: [", 0), 0u) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
  EXPECT_EQ(run_x2v("inspect").status, 2) << "missing PATH is a usage error";
}

}  // namespace
}  // namespace x2v::io
