#pragma once
// The output folder of `x2v convert`, written all or nothing: every file goes to a staging folder on the same
// file system (inside the output folder when it exists, beside it otherwise) and is moved into place only by
// publish(); until then the output folder is untouched, and a failed run removes the staging folder.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace x2v {

class StagedOutput {
 public:
  // Throws Error when `folder` exists and is not a folder, or cannot be written.
  explicit StagedOutput(const std::string& folder);
  ~StagedOutput();
  StagedOutput(const StagedOutput&) = delete;
  StagedOutput& operator=(const StagedOutput&) = delete;

  // Writes `tensors` as the file `name` (relative to the output folder); returns its size in bytes.
  uint64_t write_safetensors(const std::string& name,
                             const std::vector<std::pair<std::string, Tensor>>& tensors);
  uint64_t write_pth(const std::string& name, const std::vector<std::pair<std::string, Tensor>>& tensors);
  void write_text(const std::string& name, const std::string& text);
  // Copies the files of `source_folder` (recursively) whose names do not end in one of `skipped_endings`.
  void copy_files(const std::string& source_folder, const std::vector<std::string>& skipped_endings);
  // Moves everything written into the output folder (replacing files of the same names). Call once.
  void publish();

  const std::string& folder() const { return folder_; }
  // The files written so far, relative to the output folder.
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::filesystem::path staged(const std::string& name);

  std::string folder_;
  std::filesystem::path staging_;
  bool folder_existed_ = false;
  bool published_ = false;
  std::vector<std::string> files_;
};

}  // namespace x2v
