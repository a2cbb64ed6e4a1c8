#include "io/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "io/pth.h"
#include "io/safetensors.h"

namespace x2v::io {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPlace = "checkpoint";
constexpr const char* kAccepted =
    "x2v reads a .safetensors file, a *.safetensors.index.json, a .pth/.pt/.bin file written by torch.save, "
    "or a "
    "directory holding *.safetensors files (with or without an index)";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::unique_ptr<Checkpoint> open_directory(const fs::path& directory) {
  const fs::path preferred = directory / "diffusion_pytorch_model.safetensors.index.json";
  if (fs::is_regular_file(preferred)) return SafetensorsShards::from_index(preferred.string());

  std::vector<std::string> indexes, files;
  try {
    for (const fs::directory_entry& entry : fs::directory_iterator(directory)) {
      if (!entry.is_regular_file()) continue;
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".safetensors.index.json")) indexes.push_back(name);
      if (name.ends_with(".safetensors")) files.push_back(name);
    }
  } catch (const fs::filesystem_error& failure) {
    throw Error(kPlace, concat(directory.string(), ": cannot list (", failure.code().message(),
                               "); check the permissions"));
  }
  std::sort(indexes.begin(), indexes.end());
  std::sort(files.begin(), files.end());
  if (indexes.size() == 1) return SafetensorsShards::from_index((directory / indexes[0]).string());
  if (indexes.size() > 1) {
    std::string list;
    for (const std::string& name : indexes) list += concat(list.empty() ? "" : ", ", name);
    throw Error(kPlace,
                concat(directory.string(), ": holds several indexes (", list, "); pass the one to use"));
  }
  if (files.size() == 1) return std::make_unique<SafetensorsFile>((directory / files[0]).string());
  if (files.size() > 1) return SafetensorsShards::from_files(directory.string(), files);
  throw Error(kPlace, concat(directory.string(), ": holds no *.safetensors file; ", kAccepted));
}

}  // namespace

std::unique_ptr<Checkpoint> open_checkpoint(const std::string& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status))
    throw Error(kPlace, concat(path, ": no such file or directory; ", kAccepted));
  if (fs::is_directory(status)) return open_directory(path);

  const std::string name = lower(fs::path(path).filename().string());
  if (name.ends_with(".safetensors.index.json")) return SafetensorsShards::from_index(path);
  if (name.ends_with(".safetensors")) return std::make_unique<SafetensorsFile>(path);
  if (name.ends_with(".pth") || name.ends_with(".pt") || name.ends_with(".bin"))
    return std::make_unique<PthFile>(path);
  throw Error(kPlace, concat(path, ": unknown checkpoint type '", fs::path(path).extension().string(), "'; ",
                             kAccepted));
}

void check_loadable(const char* place, const std::string& path, const TensorInfo& info,
                    const std::string& loadable, const std::string& fix) {
  if (!info.dtype)
    throw Error(place, concat(path, ": tensor '", info.name, "' has dtype ", info.file_dtype,
                              ", which x2v cannot load; x2v loads ", loadable, " - ", fix));
  if (info.shape.size() > static_cast<size_t>(kMaxTensorDims))
    throw Error(place,
                concat(path, ": tensor '", info.name, "' has ", info.shape.size(),
                       " dims; x2v tensors have at most ", kMaxTensorDims, "; reshape it before saving"));
}

std::string human_bytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0)
    std::snprintf(text, sizeof(text), "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(text, sizeof(text), "%.1f %s", value, kUnits[unit]);
  return text;
}

}  // namespace x2v::io
