// Sharded safetensors checkpoints: an index.json naming the shard of every tensor, or a directory of
// safetensors files. Shards named by an index are mapped on first use.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/safetensors.h"

namespace x2v::io {
namespace {

constexpr const char* kPlace = "safetensors";
namespace fs = std::filesystem;

// Shards must sit in the index's directory tree: a weight_map cannot point anywhere on the disk.
bool is_safe_relative_path(const std::string& text) {
  if (text.empty()) return false;
  const fs::path path(text);
  if (path.is_absolute()) return false;
  for (const fs::path& part : path)
    if (part == "..") return false;
  return true;
}

}  // namespace

std::unique_ptr<SafetensorsShards> SafetensorsShards::from_index(const std::string& index_path) {
  std::ifstream stream(index_path, std::ios::binary);
  if (!stream) {
    if (!fs::exists(index_path)) throw Error(kPlace, concat(index_path, ": no such file; check the path"));
    throw Error(kPlace, concat(index_path, ": cannot read; check permissions"));
  }
  nlohmann::ordered_json index;
  try {
    index = nlohmann::ordered_json::parse(stream);
  } catch (const nlohmann::json::exception& error) {
    throw Error(kPlace, concat(index_path, ": not valid JSON (", error.what(),
                               "); an index is {\"weight_map\": {\"tensor\": \"shard.safetensors\"}}"));
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw Error(kPlace, concat(index_path, ": has no \"weight_map\" object; an index is ",
                               "{\"weight_map\": {\"tensor\": \"shard.safetensors\"}}"));

  std::unique_ptr<SafetensorsShards> shards(new SafetensorsShards());
  shards->path_ = index_path;
  shards->format_ = "safetensors index";
  shards->directory_ = fs::path(index_path).parent_path().string();
  std::set<std::string> shard_files;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string() || !is_safe_relative_path(shard.get<std::string>()))
      throw Error(kPlace, concat(index_path, ": tensor '", name, "' maps to ", shard.dump(),
                                 ", expected the file name of a shard next to the index"));
    shards->names_.push_back(name);
    shards->shard_of_.emplace(name, shard.get<std::string>());
    shard_files.insert(shard.get<std::string>());
  }
  for (const std::string& file : shard_files) {
    const fs::path shard_path = fs::path(shards->directory_) / file;
    if (!fs::is_regular_file(shard_path))
      throw Error(kPlace, concat(index_path, ": shard '", file, "' is missing (expected at ",
                                 shard_path.string(), "); download every shard the index lists"));
  }
  if (index.contains("metadata") && index["metadata"].is_object())
    for (const auto& [key, value] : index["metadata"].items())
      shards->metadata_[key] = value.is_string() ? value.get<std::string>() : value.dump();
  return shards;
}

std::unique_ptr<SafetensorsShards> SafetensorsShards::from_files(const std::string& directory,
                                                                 const std::vector<std::string>& files) {
  std::unique_ptr<SafetensorsShards> shards(new SafetensorsShards());
  shards->path_ = directory;
  shards->format_ = "safetensors directory";
  shards->directory_ = directory;
  for (const std::string& file : files) {
    auto shard = std::make_shared<SafetensorsFile>((fs::path(directory) / file).string());
    for (const std::string& name : shard->names()) {
      const auto [existing, inserted] = shards->shard_of_.emplace(name, file);
      if (!inserted)
        throw Error(kPlace,
                    concat(directory, ": tensor '", name, "' is in both '", existing->second, "' and '", file,
                           "'; remove one of the files or add a *.safetensors.index.json"));
      shards->names_.push_back(name);
    }
    shards->shards_.emplace(file, std::move(shard));
  }
  return shards;
}

size_t SafetensorsShards::open_shard_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return shards_.size();
}

const SafetensorsFile& SafetensorsShards::shard_holding(const std::string& name) const {
  const auto found = shard_of_.find(name);
  if (found == shard_of_.end())
    throw Error(kPlace, concat(path_, ": no tensor named '", name, "' (the checkpoint has ", names_.size(),
                               " tensors); list them with `x2v inspect ", path_, "`"));
  const SafetensorsFile* shard = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = shards_[found->second];
    if (!slot) {
      try {
        slot = std::make_shared<SafetensorsFile>((fs::path(directory_) / found->second).string());
      } catch (...) {
        shards_.erase(found->second);  // leave no empty slot behind
        throw;
      }
    }
    shard = slot.get();  // shards are never closed, so the pointer outlives the lock
  }
  if (!shard->contains(name))
    throw Error(kPlace, concat(path_, ": maps tensor '", name, "' to shard '", found->second,
                               "' but that shard has no such tensor; the index does not match its shards"));
  return *shard;
}

TensorInfo SafetensorsShards::info(const std::string& name) const {
  return shard_holding(name).info(name);
}

void SafetensorsShards::release(const std::string& name) const {
  if (!contains(name)) return;
  shard_holding(name).release(name);
}

Tensor SafetensorsShards::load(const std::string& name, std::optional<DType> dtype) const {
  return shard_holding(name).load(name, dtype);
}

}  // namespace x2v::io
