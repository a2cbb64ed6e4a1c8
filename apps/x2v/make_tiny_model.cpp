// `x2v make-tiny-model DIR`: a complete random-weight Wan2.1 T2V model in the published layout, small
// enough that `x2v infer` runs the whole path on it in seconds.
#include "commands.h"
#include "pipeline/wan_tiny_model.h"

namespace x2v::cli {

void add_make_tiny_model_command(CLI::App& app) {
  auto directory = std::make_shared<std::string>();
  auto seed = std::make_shared<uint64_t>(0);
  CLI::App* command = app.add_subcommand(
      "make-tiny-model", "Write a small random-weight Wan2.1 T2V model directory (for trying x2v out)");
  command->add_option("directory", *directory, "folder to create (must not exist)")->required();
  command->add_option("--seed", *seed, "weight seed")->capture_default_str();
  command->callback([directory, seed] {
    TinyWanModelOptions options;
    options.seed = *seed;
    write_tiny_wan_model(*directory, options);
  });
}

}  // namespace x2v::cli
