#pragma once
// The set of registered platforms and the choice among them. Built-in backends register at
// initialize(); plugins found through X2V_PLUGIN_PATH register after them.
#include <memory>
#include <string>
#include <vector>

#include "platform/device.h"

namespace x2v {

class DeviceRegistry {
 public:
  // Adds a platform; a second device with the same name is an error.
  void add(std::unique_ptr<Device> device);
  Device* find(const std::string& name) const;
  std::vector<Device*> all() const;
  std::vector<std::string> names() const;
  // The device named by `name`; throws listing the registered ones when unknown or unavailable.
  Device& get(const std::string& name) const;
  // PLATFORM env when set, else the available device with the highest priority.
  Device& select() const;

 private:
  std::vector<std::unique_ptr<Device>> devices_;
};

// Registers the built-in platforms and loads plugins (once per process; later calls return at once).
void initialize_platforms();
DeviceRegistry& devices();
// The host: the cpu platform, always present. Plain host tensors (no device) count as its tensors, and
// devices whose memory the host cannot read stage copies and fallbacks through it.
Device& host_device();
// The device `tensor` lives on (the host for plain host tensors).
Device& device_of(const Tensor& tensor);
// Shorthand for devices().select() after initialize_platforms().
Device& selected_device();

}  // namespace x2v
