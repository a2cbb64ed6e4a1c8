// `x2v platforms`: the registered platforms and, for each, its kernels by category with their aliases.
#include <cstdio>

#include "commands.h"
#include "platform/platform.h"

namespace x2v::cli {
namespace {

template <class Registry>
void print_category(const Registry& registry) {
  std::printf("  %-12s", registry.category().c_str());
  bool first = true;
  for (const std::string& name : registry.names()) {
    std::printf("%s%s", first ? "" : ", ", name.c_str());
    first = false;
  }
  for (const auto& [alias, target] : registry.aliases())
    std::printf(", %s (= %s)", alias.c_str(), target.c_str());
  std::printf("\n");
}

void print_platforms() {
  initialize_platforms();
  const Device& selected = devices().select();
  for (Device* device : devices().all()) {
    std::printf("%s%s%s\n", device->name().c_str(), device->is_available() ? "" : " (unavailable)",
                device == &selected ? " (selected)" : "");
    if (const std::string hardware = device->hardware(); !hardware.empty())
      std::printf("  %-12s%s\n", "hardware", hardware.c_str());
    KernelRegistries& kernels = device->kernels();
    print_category(kernels.attention);
    print_category(kernels.mm);
    print_category(kernels.rms_norm);
    print_category(kernels.layer_norm);
    print_category(kernels.rope);
    print_category(kernels.conv);
    print_category(kernels.elementwise);
  }
}

}  // namespace

void add_platforms_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("platforms",
                                         "List the registered platforms (cpu, plugins; the one PLATFORM "
                                         "selects is marked) and, per op category, "
                                         "their kernels and the LightX2V names they accept (alias = kernel)");
  command->callback([] { print_platforms(); });
}

}  // namespace x2v::cli
