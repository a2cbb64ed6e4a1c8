// `x2v make-tiny-model DIR`: a complete random-weight Wan2.1 T2V model in the published layout, small
// enough that `x2v infer` runs the whole path on it in seconds.
#include "commands.h"
#include "core/error.h"
#include "pipeline/wan_tiny_model.h"

namespace x2v::cli {

void add_make_tiny_model_command(CLI::App& app) {
  auto directory = std::make_shared<std::string>();
  auto seed = std::make_shared<uint64_t>(0);
  auto t5_dim = std::make_shared<int64_t>(TinyWanModelOptions{}.t5_dim);
  CLI::App* command = app.add_subcommand(
      "make-tiny-model", "Write a small random-weight Wan2.1 T2V model directory (for trying x2v out)");
  command->add_option("directory", *directory, "folder to create (must not exist)")->required();
  command->add_option("--seed", *seed, "weight seed")->capture_default_str();
  // The DiT's text_dim follows it; 32 makes the DiT the shape of the tests' DiT fixtures.
  command->add_option("--t5_dim", *t5_dim, "umT5 width (a multiple of 4)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{4}, int64_t{4096}));
  command->callback([directory, seed, t5_dim] {
    TinyWanModelOptions options;
    options.seed = *seed;
    if (*t5_dim % options.t5_heads != 0)
      throw Error("make-tiny-model", concat("--t5_dim ", *t5_dim, " is not a multiple of the ",
                                            options.t5_heads, " umT5 heads; give a multiple of 4"));
    options.t5_dim = *t5_dim;
    write_tiny_wan_model(*directory, options);
  });
}

}  // namespace x2v::cli
