// Loads platform plugins: dlopen, ABI version check, then the plugin's registration through the host
// api of include/x2v/platform_abi.h. A registration is staged and applied only when the plugin reports
// success, so a failing plugin leaves the registry as it was and can be closed again.
#include "platform/plugin_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <vector>

#include "core/log.h"
#include "platform/host_fallback.h"
#include "platform/lightx2v_names.h"
#include "platform/platform.h"
#include "platform/plugin_adapters.h"
#include "x2v/platform_abi.h"

namespace x2v {
namespace {

constexpr const char* kPlace = "plugin";
// ABI 2 needs every field of its descriptors; later fields (same ABI, bigger struct_size) are optional.
// Frozen at ABI 2's last fields, so a struct that grows later still accepts an ABI-2 plugin's.
constexpr size_t kDeviceDescMinimumSize =
    offsetof(x2v_device_desc, event_synchronize) + sizeof(x2v_device_desc::event_synchronize);
constexpr size_t kKernelDescMinimumSize =
    offsetof(x2v_kernel_desc, last_error) + sizeof(x2v_kernel_desc::last_error);

struct PendingAlias {
  std::string platform;
  KernelCategory category = KernelCategory::attention;
  std::string alias;
  std::string target;
};

struct PendingDefault {
  std::string platform;
  KernelCategory category = KernelCategory::attention;
  std::string name;
  int32_t quant_format = X2V_QUANT_NONE;  // one default per weight format
};

// One plugin: its host api (plugins may keep the pointer to log later) and, while x2v_plugin_register
// runs, what it registered.
struct PluginRecord {
  x2v_host_api api{};
  std::string path;
  std::string log_place;  // the file name, for the plugin's log lines
  DeviceRegistry* registry = nullptr;
  bool registering = false;
  std::string last_error;
  std::vector<std::unique_ptr<PluginDevice>> pending_devices;
  std::vector<std::shared_ptr<PluginKernelSpec>> pending_kernels;
  std::vector<PendingAlias> pending_aliases;
  std::vector<PendingDefault> pending_defaults;
};

// Records of loaded plugins live until the process ends (never destroyed: devices destroyed at exit may
// still call into a plugin that logs through its host api).
void keep_loaded(std::unique_ptr<PluginRecord> record) {
  static std::mutex mutex;
  static auto* records = new std::vector<std::unique_ptr<PluginRecord>>();
  std::lock_guard<std::mutex> lock(mutex);
  records->push_back(std::move(record));
}

PluginRecord& record_of(const x2v_host_api* host) {
  return *static_cast<PluginRecord*>(host->context);
}

bool is_valid_platform_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

bool has_text(const char* text) {
  return text != nullptr && text[0] != '\0';
}

PluginDevice* pending_device(PluginRecord& record, const std::string& name) {
  for (auto& device : record.pending_devices)
    if (device->name() == name) return device.get();
  return nullptr;
}

// The device a plugin may add kernels to: cpu or a device this plugin registers now (another plugin's
// device belongs to that plugin, whose fallbacks are already decided).
Device* find_target_device(PluginRecord& record, const std::string& platform) {
  if (platform == "cpu") return record.registry->find(platform);
  return pending_device(record, platform);
}

bool kernel_name_taken(PluginRecord& record, const std::string& platform, KernelCategory category,
                       const std::string& name) {
  KernelRegistries& kernels = find_target_device(record, platform)->kernels();
  if (visit_registry(kernels, category, [&](auto& registry) { return registry.contains(name); })) return true;
  // On cpu, LightX2V's names select x2v's kernels; a plugin does not take them over.
  if (platform == "cpu" && find_lightx2v_kernel_name(category_name(category), name) != nullptr) return true;
  for (const auto& spec : record.pending_kernels)
    if (spec->platform == platform && spec->category == category && spec->name == name) return true;
  for (const auto& alias : record.pending_aliases)
    if (alias.platform == platform && alias.category == category && alias.alias == name) return true;
  return false;
}

std::string known_platforms(PluginRecord& record) {
  std::string text;
  for (const std::string& name : record.registry->names()) text += (text.empty() ? "" : ", ") + name;
  for (const auto& device : record.pending_devices) text += (text.empty() ? "" : ", ") + device->name();
  return text;
}

int fail(PluginRecord& record, const std::string& message) {
  record.last_error = message;
  log_warn(kPlace, record.path, ": ", message);
  return X2V_FAILED;
}

// Runs a register_* body, which returns a problem ("" when none). Exceptions must not cross into C.
template <class Body>
int guarded(const x2v_host_api* host, Body&& body) {
  if (host == nullptr || host->context == nullptr) return X2V_FAILED;
  PluginRecord& record = record_of(host);
  try {
    if (!record.registering)
      return fail(record, "register_* calls are accepted only during x2v_plugin_register");
    const std::string problem = body(record);
    return problem.empty() ? X2V_OK : fail(record, problem);
  } catch (const std::exception& error) {
    return fail(record, error.what());
  } catch (...) {
    return fail(record, "unknown exception");
  }
}

// ---- The host api a plugin calls --------------------------------------------------------------------

int host_register_device(const x2v_host_api* host, const x2v_device_desc* raw_desc) {
  return guarded(host, [&](PluginRecord& record) -> std::string {
    x2v_device_desc desc;
    if (!copy_abi_struct(raw_desc, kDeviceDescMinimumSize, &desc))
      return concat("register_device: the descriptor is NULL or smaller (struct_size ",
                    raw_desc ? raw_desc->struct_size : 0, ") than ABI ", X2V_PLATFORM_ABI_VERSION, "'s ",
                    kDeviceDescMinimumSize, " bytes");
    const std::string name = has_text(desc.name) ? desc.name : "";
    if (!is_valid_platform_name(name))
      return concat("register_device: platform name '", name,
                    "' is empty or has characters other than letters, ", "digits, '_', '-', '.'");
    if (!desc.alloc || !desc.free || !desc.copy || !desc.synchronize)
      return concat("register_device '", name, "': alloc, free, copy and synchronize are all required");
    const int stream_functions = (desc.create_stream != nullptr) + (desc.destroy_stream != nullptr) +
                                 (desc.copy_async != nullptr) + (desc.stream_synchronize != nullptr);
    if (stream_functions != 0 && stream_functions != 4)
      return concat("register_device '", name, "': create_stream, destroy_stream, copy_async and ",
                    "stream_synchronize come all together or not at all");
    const int event_functions = (desc.create_event != nullptr) + (desc.destroy_event != nullptr) +
                                (desc.record_event != nullptr) + (desc.stream_wait_event != nullptr) +
                                (desc.event_synchronize != nullptr);
    if (event_functions != 0 && (event_functions != 5 || stream_functions == 0))
      return concat("register_device '", name, "': the five event functions come all together, and only ",
                    "with the stream functions");
    if (record.registry->find(name) != nullptr || pending_device(record, name) != nullptr)
      return concat("register_device: platform '", name, "' is already registered");
    record.pending_devices.push_back(std::make_unique<PluginDevice>(desc, record.path));
    return "";
  });
}

int host_register_kernel(const x2v_host_api* host, const char* platform, int32_t category, const char* name,
                         const x2v_kernel_desc* raw_desc) {
  return guarded(host, [&](PluginRecord& record) -> std::string {
    KernelCategory kind;
    if (!category_from_abi(category, &kind))
      return concat("register_kernel: unknown category ", category, " (use an X2V_KERNEL_* code)");
    const char* category_text = category_name(kind);
    if (!has_text(name)) return concat("register_kernel: a ", category_text, " kernel has no name");
    if (!has_text(platform)) return concat("register_kernel '", name, "': no platform given");
    if (find_target_device(record, platform) == nullptr)
      return concat(
          "register_kernel '", name, "': platform '", platform, "' is neither cpu nor a device this ",
          "plugin registered (registered: ", known_platforms(record), "); register the device first");
    x2v_kernel_desc desc;
    if (!copy_abi_struct(raw_desc, kKernelDescMinimumSize, &desc))
      return concat("register_kernel '", name, "': the descriptor is NULL or smaller (struct_size ",
                    raw_desc ? raw_desc->struct_size : 0, ") than ABI ", X2V_PLATFORM_ABI_VERSION, "'s ",
                    kKernelDescMinimumSize, " bytes");
    if (desc.apply == nullptr) return concat("register_kernel '", name, "': apply is required");
    KernelTraits traits;
    std::string problem;
    if (!traits_from_abi(desc, kind, &traits, &problem))
      return concat("register_kernel '", name, "': ", problem);
    if (kernel_name_taken(record, platform, kind, name))
      return concat("register_kernel: ", category_text, " kernel '", name, "' already exists on platform '",
                    platform, "'; pick another name");
    auto spec = std::make_shared<PluginKernelSpec>();
    spec->desc = desc;
    spec->desc.description = nullptr;  // copied below; the plugin's string may be temporary
    spec->category = kind;
    spec->device = find_target_device(record, platform);
    spec->platform = platform;
    spec->name = name;
    spec->description = has_text(desc.description) ? desc.description : "";
    spec->plugin = record.path;
    record.pending_kernels.push_back(std::move(spec));
    return "";
  });
}

int host_register_alias(const x2v_host_api* host, const char* platform, int32_t category, const char* alias,
                        const char* target) {
  return guarded(host, [&](PluginRecord& record) -> std::string {
    KernelCategory kind;
    if (!category_from_abi(category, &kind))
      return concat("register_alias: unknown category ", category, " (use an X2V_KERNEL_* code)");
    const char* category_text = category_name(kind);
    if (!has_text(alias) || !has_text(target) || !has_text(platform))
      return "register_alias: platform, alias and target must all be given";
    if (find_target_device(record, platform) == nullptr)
      return concat("register_alias '", alias, "': platform '", platform, "' is neither cpu nor a device ",
                    "this plugin registered (registered: ", known_platforms(record), ")");
    if (!kernel_name_taken(record, platform, kind, target))
      return concat("register_alias '", alias, "': no ", category_text, " kernel '", target,
                    "' on platform '", platform, "'");
    if (kernel_name_taken(record, platform, kind, alias))
      return concat("register_alias: ", category_text, " name '", alias, "' already exists on platform '",
                    platform, "'");
    record.pending_aliases.push_back(PendingAlias{platform, kind, alias, target});
    return "";
  });
}

int host_register_default(const x2v_host_api* host, const char* platform, int32_t category,
                          const char* name) {
  return guarded(host, [&](PluginRecord& record) -> std::string {
    KernelCategory kind;
    if (!category_from_abi(category, &kind))
      return concat("register_default: unknown category ", category, " (use an X2V_KERNEL_* code)");
    if (!has_text(platform) || !has_text(name))
      return "register_default: platform and name must both be given";
    if (pending_device(record, platform) == nullptr)
      return concat("register_default '", name, "': platform '", platform,
                    "' is not a device this plugin registered (the cpu's defaults stay x2v's)");
    const PluginKernelSpec* kernel = nullptr;
    for (const auto& spec : record.pending_kernels)
      if (spec->platform == platform && spec->category == kind && spec->name == name) kernel = spec.get();
    if (kernel == nullptr)
      return concat("register_default: no ", category_name(kind), " kernel '", name, "' registered on '",
                    platform, "'; register the kernel first");
    const int32_t format = kernel->desc.quant_format;
    for (const auto& pending : record.pending_defaults)
      if (pending.platform == platform && pending.category == kind && pending.quant_format == format)
        return concat("register_default: the ", category_name(kind), " default of '", platform,
                      format == X2V_QUANT_NONE ? "" : " for its quant_format", "' is already '", pending.name,
                      "'");
    record.pending_defaults.push_back(PendingDefault{platform, kind, name, format});
    return "";
  });
}

void host_log(const x2v_host_api* host, int32_t level, const char* message) {
  if (host == nullptr || host->context == nullptr || message == nullptr) return;
  try {
    LogLevel log_level = LogLevel::info;
    if (level == X2V_LOG_DEBUG) log_level = LogLevel::debug;
    if (level == X2V_LOG_WARN) log_level = LogLevel::warn;
    if (level == X2V_LOG_ERROR) log_level = LogLevel::error;
    log_message(log_level, record_of(host).log_place, message);
  } catch (...) {
    // Logging must never throw into C code.
  }
}

const char* host_last_error(const x2v_host_api* host) {
  if (host == nullptr || host->context == nullptr) return "";
  return record_of(host).last_error.c_str();
}

// ---- Loading ------------------------------------------------------------------------------------------

// Closes the library unless released (a loaded plugin stays open for the life of the process).
class LibraryHandle {
 public:
  explicit LibraryHandle(void* handle) : handle_(handle) {}
  ~LibraryHandle() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  LibraryHandle(const LibraryHandle&) = delete;
  LibraryHandle& operator=(const LibraryHandle&) = delete;
  void* get() const { return handle_; }
  void release() { handle_ = nullptr; }

 private:
  void* handle_;
};

void* find_symbol(const LibraryHandle& library, const std::string& path, const char* symbol) {
  void* address = dlsym(library.get(), symbol);
  if (address == nullptr)
    throw Error(kPlace,
                concat(path, " does not export ", symbol, "(); an x2v plugin defines ",
                       X2V_PLUGIN_ABI_VERSION_SYMBOL, "() and ", X2V_PLUGIN_REGISTER_SYMBOL,
                       "() as described in include/x2v/platform_abi.h (declared extern \"C\" and exported)"));
  return address;
}

// Applies a successful registration to the registry.
void commit(PluginRecord& record, DeviceRegistry& registry) {
  std::string summary;
  std::vector<Device*> added_devices;
  for (auto& device : record.pending_devices) {
    PluginDevice* added = device.get();
    added_devices.push_back(added);
    summary += concat(summary.empty() ? "" : ", ", "platform ", added->name());
    registry.add(std::move(device));
    added->adopt();
  }
  for (auto& spec : record.pending_kernels) {
    summary += concat(summary.empty() ? "" : ", ", category_name(spec->category), " kernel ", spec->platform,
                      "/", spec->name);
    KernelRegistries& kernels = registry.find(spec->platform)->kernels();
    add_plugin_kernel(kernels, std::move(spec));
  }
  for (const auto& alias : record.pending_aliases) {
    visit_registry(registry.find(alias.platform)->kernels(), alias.category,
                   [&](auto& kernels) { kernels.alias(alias.alias, alias.target); });
    summary +=
        concat(summary.empty() ? "" : ", ", "alias ", alias.platform, "/", alias.alias, " = ", alias.target);
  }
  for (const auto& pending : record.pending_defaults)
    visit_registry(registry.find(pending.platform)->kernels(), pending.category,
                   [&](auto& kernels) { kernels.set_default(pending.name); });
  // The plugin's devices: a category with one kernel and no default defaults to it; the rest run the
  // host's kernels through copies.
  for (Device* device : added_devices) {
    for_each_registry(device->kernels(), [](KernelCategory, auto& kernels) {
      // Per weight format: the only kernel of a format without a default becomes its default.
      for (QuantFormat format : {QuantFormat::none, QuantFormat::int8, QuantFormat::fp8_e4m3}) {
        std::vector<std::string> of_format;
        for (const std::string& name : kernels.names())
          if (kernels.traits(name).quant == format) of_format.push_back(name);
        if (kernels.default_name(format).empty() && of_format.size() == 1)
          kernels.set_default(of_format.front());
      }
    });
    add_host_fallbacks(*device, *registry.find("cpu"));
  }
  record.pending_devices.clear();
  record.pending_kernels.clear();
  record.pending_aliases.clear();
  record.pending_defaults.clear();
  log_info(kPlace, "loaded ", record.path, ": ", summary.empty() ? "registered nothing" : summary);
}

std::vector<std::string> split_path_list(const std::string& text) {
  std::vector<std::string> entries;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(':', start), text.size());
    if (end > start) entries.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return entries;
}

// The *.so files of a directory, sorted so the load order does not depend on the file system.
std::vector<std::filesystem::path> plugin_files_in(const std::filesystem::path& directory) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    if (entry.path().extension() == ".so" && entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

void load_plugin(const std::string& path, DeviceRegistry& registry) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (path.empty()) throw Error(kPlace, "empty plugin path");
  if (!fs::exists(path, error))
    throw Error(kPlace,
                concat("plugin file ", path, " does not exist; check the path (X2V_PLUGIN_PATH lists ",
                       "plugin files or directories separated by ':')"));
  if (fs::is_directory(path, error))
    throw Error(kPlace,
                concat("plugin path ", path, " is a directory; name a .so file (X2V_PLUGIN_PATH also ",
                       "accepts directories)"));
  // An absolute path keeps dlopen from searching the system library path for a bare file name.
  const std::string absolute = fs::absolute(path, error).string();
  dlerror();
  LibraryHandle library(dlopen(absolute.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (library.get() == nullptr) {
    const char* reason = dlerror();
    throw Error(kPlace, concat("cannot load plugin ", path, ": ", reason ? reason : "unknown dlopen error"));
  }

  const auto abi_version =
      reinterpret_cast<x2v_plugin_abi_version_fn>(find_symbol(library, path, X2V_PLUGIN_ABI_VERSION_SYMBOL));
  const uint32_t version = abi_version();
  if (version != X2V_PLATFORM_ABI_VERSION)
    throw Error(kPlace, concat(path, " was built for platform ABI ", version, "; this x2v speaks ABI ",
                               X2V_PLATFORM_ABI_VERSION,
                               ": rebuild the plugin against this x2v's include/x2v/platform_abi.h"));
  const auto register_plugin =
      reinterpret_cast<x2v_plugin_register_fn>(find_symbol(library, path, X2V_PLUGIN_REGISTER_SYMBOL));

  // Declared after `library`, so on failure the staged objects go before the library closes.
  auto record = std::make_unique<PluginRecord>();
  record->path = path;
  record->log_place = fs::path(path).filename().string();
  record->registry = &registry;
  record->api.struct_size = sizeof(x2v_host_api);
  record->api.abi_version = X2V_PLATFORM_ABI_VERSION;
  record->api.context = record.get();
  record->api.register_device = host_register_device;
  record->api.register_kernel = host_register_kernel;
  record->api.register_alias = host_register_alias;
  record->api.log = host_log;
  record->api.last_error = host_last_error;
  record->api.register_default = host_register_default;

  record->registering = true;
  const int status = register_plugin(&record->api);
  record->registering = false;
  if (status != X2V_OK)
    throw Error(kPlace,
                concat(path, ": ", X2V_PLUGIN_REGISTER_SYMBOL, "() returned ", status,
                       record->last_error.empty() ? std::string(" (the plugin gave no reason)")
                                                  : concat("; last registration error: ", record->last_error),
                       "; nothing from this plugin was registered"));
  commit(*record, registry);
  keep_loaded(std::move(record));
  library.release();
}

void load_plugins_from_environment(DeviceRegistry& registry) {
  namespace fs = std::filesystem;
  const char* value = std::getenv("X2V_PLUGIN_PATH");
  if (value == nullptr || value[0] == '\0') return;
  std::set<std::string> loaded;  // one file listed twice (or by a directory and by name) loads once
  for (const std::string& entry : split_path_list(value)) {
    std::error_code error;
    if (!fs::exists(entry, error))
      throw Error(kPlace, concat("X2V_PLUGIN_PATH entry '", entry, "' does not exist; list plugin files or ",
                                 "directories separated by ':'"));
    std::vector<fs::path> files;
    if (fs::is_directory(entry, error)) {
      files = plugin_files_in(entry);
      if (files.empty()) log_warn(kPlace, "X2V_PLUGIN_PATH directory '", entry, "' holds no *.so files");
    } else {
      files.push_back(entry);
    }
    for (const fs::path& file : files) {
      const std::string canonical = fs::weakly_canonical(file, error).string();
      if (!loaded.insert(canonical.empty() ? file.string() : canonical).second) continue;
      load_plugin(file.string(), registry);
    }
  }
}

}  // namespace x2v
