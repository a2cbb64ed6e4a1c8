// x2v inspect PATH: lists the tensors of a checkpoint (any format open_checkpoint reads).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "core/tensor.h"
#include "core/text.h"
#include "io/checkpoint.h"

namespace x2v::cli {
namespace {

void run_inspect(const std::string& path) {
  const std::unique_ptr<io::Checkpoint> checkpoint = io::open_checkpoint(path);
  const auto& names = checkpoint->names();

  std::vector<io::TensorInfo> infos;
  infos.reserve(names.size());
  size_t name_width = 4, dtype_width = 5, shape_width = 5;
  for (const std::string& name : names) {
    infos.push_back(checkpoint->info(name));
    const io::TensorInfo& info = infos.back();
    name_width = std::max(name_width, printable(info.name).size());
    dtype_width = std::max(dtype_width, info.dtype_label().size() + (info.dtype ? 0 : 14));
    shape_width = std::max(shape_width, shape_to_string(info.shape).size());
  }

  // Names, metadata and dtype labels come from the file: escaped, so a crafted file cannot drive the
  // terminal.
  std::printf("%s (%s)\n", printable(checkpoint->path()).c_str(), checkpoint->format().c_str());
  if (!checkpoint->note().empty()) std::printf("note: %s\n", printable(checkpoint->note()).c_str());
  for (const auto& [key, value] : checkpoint->metadata())
    std::printf("metadata %s = %s\n", printable(key).c_str(), printable(value).c_str());
  const int name_column = static_cast<int>(name_width), dtype_column = static_cast<int>(dtype_width),
            shape_column = static_cast<int>(shape_width);
  std::printf("%-*s  %-*s  %-*s  %s\n", name_column, "name", dtype_column, "dtype", shape_column, "shape",
              "bytes");
  uint64_t total = 0;
  for (const io::TensorInfo& info : infos) {
    const std::string dtype =
        printable(info.dtype ? info.dtype_label() : info.dtype_label() + " (unsupported)");
    std::printf("%-*s  %-*s  %-*s  %llu\n", name_column, printable(info.name).c_str(), dtype_column,
                dtype.c_str(), shape_column, shape_to_string(info.shape).c_str(),
                static_cast<unsigned long long>(info.bytes));
    total += info.bytes;
  }
  std::printf("%zu tensors, %llu bytes (%s)\n", infos.size(), static_cast<unsigned long long>(total),
              io::human_bytes(total).c_str());
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand(
      "inspect",
      "List the tensors of a checkpoint (.safetensors, *.safetensors.index.json, .pth/.pt/.bin, directory)");
  auto path = std::make_shared<std::string>();
  command->add_option("path", *path, "checkpoint file or model directory")->required();
  command->callback([path] { run_inspect(*path); });
}

}  // namespace x2v::cli
