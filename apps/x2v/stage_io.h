#pragma once
// Shared pieces of the stage commands: reading a safetensors file of named inputs, writing outputs
// atomically, and the closing summary (time, peak memory).
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/tensor.h"
#include "platform/device.h"

namespace x2v::cli {

// The options every stage command takes.
struct StageArguments {
  std::string model_path, config_json, inputs, output;
  bool strict = false;
};
void add_stage_options(CLI::App* command, StageArguments& arguments, const std::string& model_path_help,
                       const std::string& inputs_help, const std::string& output_help);
// --strict: config keys that x2v ignores (unknown, or LightX2V's and not implemented) are errors.
void add_strict_flag(CLI::App* command, bool& strict);

class StageInputs {
 public:
  explicit StageInputs(const std::string& path);
  bool has(const std::string& name) const;
  // f32 host tensor; throws Error naming the file and the tensor when missing.
  Tensor get(const std::string& name) const;
  Tensor get_optional(const std::string& name) const;

 private:
  std::string path_;
  std::map<std::string, Tensor> tensors_;
};

// Checks that the output's folder exists and is writable before any work starts.
// Under mpirun, rank 0 alone checks and writes outputs and prints the summary.
bool is_output_rank();
void check_output_path(const std::string& path);
void write_outputs(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors);

// "x2v dit: 1.23 s, peak memory 512.00 MiB (cpu allocator 300.00 MiB)" on stderr.
void print_summary(const std::string& command, std::chrono::steady_clock::time_point start, Device& device);

}  // namespace x2v::cli
