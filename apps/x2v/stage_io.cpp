#include "stage_io.h"

#include "platform/communicator.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/progress.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

namespace x2v::cli {

void add_stage_options(CLI::App* command, StageArguments& arguments, const std::string& model_path_help,
                       const std::string& inputs_help, const std::string& output_help) {
  command->add_option("--model_path", arguments.model_path, model_path_help)->required();
  command->add_option("--config_json", arguments.config_json, "LightX2V-style JSON config");
  command->add_option("--inputs", arguments.inputs, inputs_help)->required();
  command->add_option("--output", arguments.output, output_help)->required();
  add_strict_flag(command, arguments.strict);
}

void add_strict_flag(CLI::App* command, bool& strict) {
  command->add_flag(
      "--strict", strict,
      "config keys x2v ignores (unknown, or LightX2V's and not implemented) are errors, not warnings");
}

StageInputs::StageInputs(const std::string& path) : path_(path) {
  auto checkpoint = io::open_checkpoint(path);
  for (const std::string& name : checkpoint->names())
    tensors_[name] = checkpoint->load(name).to_host(DType::f32);
}

bool StageInputs::has(const std::string& name) const {
  return tensors_.count(name) > 0;
}

Tensor StageInputs::get(const std::string& name) const {
  auto found = tensors_.find(name);
  if (found == tensors_.end()) {
    // A few names show what the file is; a long list would bury the message.
    constexpr size_t kShown = 6;
    std::string names;
    size_t shown = 0;
    for (const auto& [present, tensor] : tensors_)
      if (shown++ < kShown) names += (names.empty() ? "" : ", ") + present;
    if (tensors_.size() > kShown) names += concat(" and ", tensors_.size() - kShown, " more");
    throw Error("inputs", concat(path_, " has no tensor '", name, "' (it has: ",
                                 names.empty() ? "none" : names, "); give the file the earlier stage wrote"));
  }
  return found->second;
}

Tensor StageInputs::get_optional(const std::string& name) const {
  return has(name) ? get(name) : Tensor();
}

bool is_output_rank() {
  return world_communicator().rank() == 0;
}

void check_output_path(const std::string& path) {
  if (!is_output_rank()) return;  // under mpirun only rank 0 writes, perhaps on another machine
  namespace fs = std::filesystem;
  const fs::path parent = fs::absolute(path).parent_path();
  std::error_code error;
  if (!fs::is_directory(parent, error))
    throw Error("output", concat("the folder of ", path, " does not exist; create it first"));
  if (access(parent.c_str(), W_OK) != 0)
    throw Error("output", concat("cannot write to the folder of ", path));
}

void write_outputs(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  if (is_output_rank()) io::write_safetensors(path, tensors);
}

void print_summary(const std::string& command, std::chrono::steady_clock::time_point start, Device& device) {
  if (!is_output_rank()) return;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const size_t peak_rss = static_cast<size_t>(usage.ru_maxrss) * 1024;
  std::fprintf(stderr, "x2v %s: done in %.2f s, peak memory %s (%s allocator peak %s)\n", command.c_str(),
               seconds_since(start), format_bytes(peak_rss).c_str(), device.device_string().c_str(),
               format_bytes(device.allocator().stats().lifetime_peak_bytes).c_str());
}

}  // namespace x2v::cli
