// `x2v platforms`: the registered platforms and, for each, its hardware, capabilities and memory, and its
// kernels by category: native ones (the default marked), the LightX2V names they accept, and what runs on
// the host through copies.
#include <cstdio>

#include "commands.h"
#include "platform/platform.h"

namespace x2v::cli {
namespace {

template <class Registry>
void print_category(const Registry& registry) {
  std::string native, fallback;
  for (const std::string& name : registry.names()) {
    const bool is_default = name == registry.default_name();
    std::string& list = registry.traits(name).host_fallback ? fallback : native;
    list += concat(list.empty() ? "" : ", ", name, is_default ? " (default)" : "");
  }
  for (const auto& [alias, target] : registry.aliases()) native += concat(", ", alias, " (= ", target, ")");
  for (const auto& [name, target] : registry.lightx2v_names())
    native += concat(", ", name, " (= ", target, ")");
  if (!native.empty() && native.starts_with(", ")) native = native.substr(2);
  std::printf("  %-12s%s\n", registry.category().c_str(),
              native.empty() ? "(no native kernel)" : native.c_str());
  if (!fallback.empty()) std::printf("  %-12s  host fallback (through copies): %s\n", "", fallback.c_str());
}

std::string describe_capabilities(const DeviceCapabilities& caps) {
  std::string text;
  for (const auto& [present, name] :
       {std::pair{caps.f16, "f16"}, std::pair{caps.bf16, "bf16"}, std::pair{caps.int8, "int8"},
        std::pair{caps.fp8, "fp8"}, std::pair{caps.async_copy, "async copies"}})
    if (present) text += concat(text.empty() ? "" : ", ", name);
  return text.empty() ? "f32 only" : text;
}

void print_platforms() {
  initialize_platforms();
  const Device& selected = devices().select();
  for (Device* device : devices().all()) {
    std::printf("%s%s%s\n", device->name().c_str(), device->is_available() ? "" : " (unavailable)",
                device == &selected ? " (selected)" : "");
    if (const std::string hardware = device->hardware(); !hardware.empty())
      std::printf("  %-12s%s\n", "hardware", hardware.c_str());
    std::printf("  %-12s%s; memory %s\n", "native", describe_capabilities(device->capabilities()).c_str(),
                device->host_accessible() ? "host-readable" : "separate (explicit copies)");
    const DeviceMemory memory = device->memory();
    if (memory.total != 0)
      std::printf("  %-12s%s total, %s free\n", "memory", format_bytes(memory.total).c_str(),
                  format_bytes(memory.free).c_str());
    for_each_registry(device->kernels(), [](KernelCategory, auto& registry) { print_category(registry); });
  }
}

}  // namespace

void add_platforms_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("platforms",
                                         "List the registered platforms (cpu, plugins; the one PLATFORM "
                                         "selects is marked) and, per op category, their kernels, the "
                                         "LightX2V names they accept (name = kernel) and the host fallbacks");
  command->callback([] { print_platforms(); });
}

}  // namespace x2v::cli
