// x2v: one binary, one subcommand per file. Exit status: 0 success, 2 user error (one line on stderr),
// 1 internal error.
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>

#include "commands.h"
#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "io/interrupt_cleanup.h"
#include "platform/communicator.h"

namespace {

constexpr const char* kFooter =
    "Environment: PLATFORM (cpu, or a plugin's), DTYPE (BF16, FP16, FP32), SENSITIVE_LAYER_DTYPE, "
    "X2V_LOG_LEVEL (debug, info, warn, error, off), X2V_MEMORY_LIMIT (e.g. 12G), X2V_PLUGIN_PATH, "
    "X2V_CPU_ISA.\n"
    "Config keys, a CPU-sized config (configs/wan/wan_t2v_cpu.json), times and limits: README.md.";

// LightX2V flags that x2v spells differently or does not have, with what to do instead.
const std::map<std::string, std::string>& lightx2v_flag_hints() {
  static const std::map<std::string, std::string> hints = {
      {"--save_video_path", "LightX2V's old name; use --save_result_path"},
      {"--use_prompt_enhancer", "the prompt enhancer is not implemented in x2v; the prompt is used as given"},
      {"--target_shape", "set target_height and target_width in the --config_json file"},
      {"--last_frame_path", "flf2v is not implemented in x2v"},
      {"--audio_path", "audio-driven models are not implemented in x2v"},
  };
  return hints;
}

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* command : app.get_subcommands({})) names.push_back(command->get_name());
  return names;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// CLI11 reports a misspelled option as a missing required one ("--model_path is required"); the unknown
// option, and the nearest real one, is what the user needs to see.
void check_options(CLI::App& command, int argc, char** argv, int first) {
  std::vector<std::string> long_names;
  std::map<std::string, bool> takes_value;
  for (const CLI::Option* option : command.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      long_names.push_back("--" + name);
      takes_value["--" + name] = option->get_type_size() != 0;
    }
  }
  long_names.push_back("--help");
  for (int i = first; i < argc; ++i) {
    std::string token = argv[i];
    if (token == "--") break;  // what follows is positional
    if (token.rfind("--", 0) != 0) continue;
    const std::string name = token.substr(0, token.find('='));
    if (takes_value.count(name)) {
      if (takes_value[name] && token.find('=') == std::string::npos) ++i;  // its value may start with '-'
      continue;
    }
    if (name == "--help") continue;
    std::string hint;
    if (auto found = lightx2v_flag_hints().find(name); found != lightx2v_flag_hints().end())
      hint = found->second;
    else if (const std::string nearest = x2v::nearest_name(name, long_names); !nearest.empty())
      hint = "did you mean " + nearest + "?";
    else
      hint = "see x2v " + command.get_name() + " --help";
    throw x2v::Error(
        "usage", "unknown option " + x2v::printable(name) + " for x2v " + command.get_name() + "; " + hint);
  }
}

// The subcommand argv names, checked before CLI11 parses so a typo gets "did you mean".
void check_command_line(CLI::App& app, int argc, char** argv) {
  if (argc < 2) return;
  const std::string first = argv[1];
  if (first.empty() || first[0] == '-' || first == "help") return;
  CLI::App* command = nullptr;
  try {
    command = app.get_subcommand(first);
  } catch (const CLI::OptionNotFound&) {
    const std::vector<std::string> names = subcommand_names(app);
    const std::string nearest = x2v::nearest_name(first, names);
    throw x2v::Error("usage", "unknown command '" + x2v::printable(first) + "'; " +
                                  (nearest.empty() ? "" : "did you mean '" + nearest + "'? ") +
                                  "commands: " + joined(names) + " (x2v --help)");
  }
  check_options(*command, argc, argv, 2);
}

// Prints `message` (when there is one) and returns `status`; under mpirun the message names the rank, and a
// failure ends every rank of the job, so none waits forever for this one.
int fail(int status, const std::string& message) {
  const int ranks = x2v::launched_world_size();
  if (!message.empty()) {
    if (ranks > 1)
      std::fprintf(stderr, "x2v: rank %d of %d: %s\n", x2v::launched_world_rank(), ranks, message.c_str());
    else
      std::fprintf(stderr, "x2v: %s\n", message.c_str());
    std::fflush(stderr);
  }
  if (status != 0) x2v::abort_other_ranks(status);
  x2v::finalize_communicator();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  x2v::io::install_interrupt_cleanup();  // first: every later thread inherits its blocked signals
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
  x2v::cli::add_serve_command(app);
  app.footer(kFooter);
  for (CLI::App* command : app.get_subcommands({})) command->footer(kFooter);
  // `x2v` alone and `x2v help [command]` show the help.
  if (argc == 1 || (argc >= 2 && std::strcmp(argv[1], "help") == 0)) {
    CLI::App* target = &app;
    if (argc >= 3) {
      try {
        target = app.get_subcommand(argv[2]);
      } catch (const CLI::OptionNotFound&) {
      }
    }
    std::fputs(target->help().c_str(), argc == 1 ? stderr : stdout);
    return argc == 1 ? 2 : 0;
  }
  try {
    check_command_line(app, argc, argv);
    if (x2v::launched_world_size() > 1) {
      // Under mpirun: every rank joins the world before any work; only rank 0 prints progress.
      if (x2v::world_communicator().rank() != 0) x2v::set_log_level(x2v::LogLevel::error);
    }
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int status = app.exit(error);
    return fail(status == 0 ? 0 : 2, "");
  } catch (const x2v::Error& error) {
    return fail(2, x2v::printable(error.what()));
  } catch (const x2v::InternalError& error) {
    return fail(1, x2v::printable(error.what()) + " (please report this)");
  } catch (const std::bad_alloc&) {
    return fail(2,
                "out of memory; lower the video size or steps, or set X2V_MEMORY_LIMIT to see which "
                "allocation does not fit");
  } catch (const std::exception& error) {
    return fail(1, "internal error: " + x2v::printable(error.what()) + " (please report this)");
  }
  x2v::finalize_communicator();
  return 0;
}
