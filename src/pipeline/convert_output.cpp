#include "pipeline/convert_output.h"

#include <unistd.h>

#include <atomic>
#include <fstream>

#include "core/error.h"
#include "io/pth_writer.h"
#include "io/safetensors.h"

namespace x2v {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPlace = "convert";

fs::path nearest_existing_folder(fs::path path) {
  std::error_code error;
  while (path.has_parent_path() && !fs::is_directory(path, error)) path = path.parent_path();
  return path;
}

// Moves the entries of `from` into `to`, merging folders and replacing files.
void move_into(const fs::path& from, const fs::path& to) {
  for (const fs::directory_entry& entry : fs::directory_iterator(from)) {
    const fs::path target = to / entry.path().filename();
    if (entry.is_directory() && fs::is_directory(target)) {
      move_into(entry.path(), target);
      continue;
    }
    if (entry.is_directory() && fs::exists(target)) fs::remove(target);
    fs::rename(entry.path(), target);
  }
}

}  // namespace

StagedOutput::StagedOutput(const std::string& folder) : folder_(folder) {
  static std::atomic<unsigned> counter{0};
  const fs::path path = fs::absolute(folder);
  std::error_code error;
  folder_existed_ = fs::exists(path, error);
  if (folder_existed_ && !fs::is_directory(path, error))
    throw Error(kPlace,
                concat(folder, " is a file; -o/--output names the folder to write the converted files ",
                       "into (-o_n/--output_name names them)"));
  const std::string tag = concat(".x2v-convert-", ::getpid(), "-", counter++);
  staging_ = folder_existed_ ? path / tag
                             : nearest_existing_folder(path) / concat(".", path.filename().string(), tag);
  if (!fs::create_directory(staging_, error))
    throw Error(kPlace, concat("cannot create a folder in ", staging_.parent_path().string(), " (",
                               error.message(), "); check that it is writable"));
}

StagedOutput::~StagedOutput() {
  if (published_) return;
  std::error_code ignored;
  fs::remove_all(staging_, ignored);
}

fs::path StagedOutput::staged(const std::string& name) {
  X2V_ASSERT(!published_, kPlace, "writing ", name, " after publish");
  files_.push_back(name);
  return staging_ / name;
}

uint64_t StagedOutput::write_safetensors(const std::string& name,
                                         const std::vector<std::pair<std::string, Tensor>>& tensors) {
  const fs::path path = staged(name);
  io::write_safetensors(path.string(), tensors);
  return fs::file_size(path);
}

uint64_t StagedOutput::write_pth(const std::string& name,
                                 const std::vector<std::pair<std::string, Tensor>>& tensors) {
  const fs::path path = staged(name);
  io::write_pth(path.string(), tensors);
  return fs::file_size(path);
}

void StagedOutput::write_text(const std::string& name, const std::string& text) {
  const fs::path path = staged(name);
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream << text;
  stream.close();
  if (!stream) throw Error(kPlace, concat("cannot write ", path.string(), "; check free disk space"));
}

void StagedOutput::copy_files(const std::string& source_folder,
                              const std::vector<std::string>& skipped_endings) {
  const fs::path output = fs::weakly_canonical(fs::absolute(folder_));
  for (auto it = fs::recursive_directory_iterator(source_folder); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path path = fs::weakly_canonical(it->path());
    if (it->is_directory()) {
      // The output folder (or this staging folder) may sit inside the source folder.
      if (path == output || path == fs::weakly_canonical(staging_)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    const std::string name = it->path().filename().string();
    bool skipped = false;
    for (const std::string& ending : skipped_endings) skipped = skipped || name.ends_with(ending);
    if (skipped) continue;
    const fs::path relative = fs::relative(it->path(), source_folder);
    fs::create_directories((staging_ / relative).parent_path());
    fs::copy_file(it->path(), staged(relative.string()), fs::copy_options::overwrite_existing);
  }
}

void StagedOutput::publish() {
  X2V_ASSERT(!published_, kPlace, "publish called twice");
  const fs::path path = fs::absolute(folder_);
  try {
    if (folder_existed_) {
      move_into(staging_, path);
      fs::remove_all(staging_);
    } else {
      if (path.has_parent_path()) fs::create_directories(path.parent_path());
      fs::rename(staging_, path);
    }
  } catch (const fs::filesystem_error& error) {
    throw Error(kPlace, concat("cannot move the converted files into ", folder_, " (", error.code().message(),
                               "); check permissions and free space there"));
  }
  published_ = true;
}

}  // namespace x2v
