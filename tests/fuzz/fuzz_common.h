#pragma once
// Shared by the libFuzzer harnesses: the input as a file (the readers map files), in a folder of this
// process.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "io/checkpoint.h"

namespace x2v::fuzz {

// Writes the input to a per-process file ending in `extension` and returns its path.
inline std::string input_file(const uint8_t* data, size_t size, const std::string& extension) {
  static const std::string folder = [] {
    const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("x2v-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path.string();
  }();
  const std::string path = folder + "/input" + extension;
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
  std::fclose(file);
  return path;
}

// Opens the checkpoint at `path` and reads every tensor; a bad file must be an x2v::Error.
inline void read_every_tensor(const std::string& path) {
  try {
    const auto checkpoint = io::open_checkpoint(path);
    for (const std::string& name : checkpoint->names()) {
      checkpoint->info(name);
      checkpoint->load(name).to_floats();
    }
  } catch (const Error&) {
  }
}

}  // namespace x2v::fuzz
