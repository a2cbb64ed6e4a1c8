#pragma once
// Loads out-of-tree platform plugins (shared libraries built against include/x2v/platform_abi.h).
#include <string>

namespace x2v {

class DeviceRegistry;

// Loads every plugin named by X2V_PLUGIN_PATH (':'-separated files or directories of *.so).
void load_plugins_from_environment(DeviceRegistry& registry);
// Loads one plugin file; throws Error naming the file and the problem (missing symbol, wrong ABI version).
void load_plugin(const std::string& path, DeviceRegistry& registry);

}  // namespace x2v
