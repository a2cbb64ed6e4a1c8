#pragma once
// Each subcommand lives in its own file and adds itself to the CLI through one of these.
#include <CLI/CLI.hpp>

namespace x2v::cli {

void add_inspect_command(CLI::App& app);
void add_platforms_command(CLI::App& app);
void add_dit_command(CLI::App& app);
void add_sample_command(CLI::App& app);
void add_infer_command(CLI::App& app);
void add_encode_text_command(CLI::App& app);
void add_decode_command(CLI::App& app);
void add_make_tiny_model_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_serve_command(CLI::App& app);

}  // namespace x2v::cli
