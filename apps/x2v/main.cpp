// x2v: one binary, one subcommand per file. Exit status: 0 success, 2 user error (one line on stderr),
// 1 internal error.
#include <cstdio>
#include <exception>

#include "commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"x2v: video generation inference engine (Wan2.1, LightX2V-compatible)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "x2v 0.1.0");
  x2v::cli::add_infer_command(app);
  x2v::cli::add_encode_text_command(app);
  x2v::cli::add_decode_command(app);
  x2v::cli::add_make_tiny_model_command(app);
  x2v::cli::add_convert_command(app);
  x2v::cli::add_inspect_command(app);
  x2v::cli::add_platforms_command(app);
  x2v::cli::add_dit_command(app);
  x2v::cli::add_sample_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int status = app.exit(error);
    return status == 0 ? 0 : 2;
  } catch (const x2v::Error& error) {
    std::fprintf(stderr, "x2v: %s\n", error.what());
    return 2;
  } catch (const x2v::InternalError& error) {
    std::fprintf(stderr, "x2v: %s (please report this)\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "x2v: internal error: %s (please report this)\n", error.what());
    return 1;
  }
  return 0;
}
