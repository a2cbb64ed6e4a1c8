// libFuzzer: the server's task request: JSON parsing, every field's checks, base64 images and the result
// path, which must never leave the outputs folder.
#include <filesystem>

#include "core/error.h"
#include "fuzz_common.h"
#include "server/task_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const x2v::server::ServerFolders folders = [] {
    const auto cache =
        std::filesystem::temp_directory_path() / ("x2v-fuzz-cache-" + std::to_string(::getpid()));
    return x2v::server::ServerFolders::make(cache.string(), "");
  }();
  const nlohmann::json body = nlohmann::json::parse(data, data + size, nullptr, false);
  if (body.is_discarded()) return 0;
  for (const char* task : {"t2v", "i2v"}) {
    try {
      const x2v::server::TaskRequest request = x2v::server::parse_task_request(body, folders, task);
      const std::string path = x2v::server::output_path(request.result_name, folders);
      const auto relative = std::filesystem::path(path).lexically_relative(folders.outputs).string();
      if (relative.empty() || relative.rfind("..", 0) == 0) std::abort();  // a result outside outputs
    } catch (const x2v::server::RequestError&) {
    } catch (const x2v::Error&) {
    }
  }
  return 0;
}
