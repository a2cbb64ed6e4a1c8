#pragma once
// The devices tests run on. X2V_TEST_PLATFORM names one registered platform (plugins from X2V_PLUGIN_PATH
// included); unset, the golden fixtures run on cpu and the conformance suite on every registered device.
#include <cstdlib>
#include <string>
#include <vector>

#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v::testing {

inline std::string test_platform_name() {
  const char* name = std::getenv("X2V_TEST_PLATFORM");
  return name != nullptr && name[0] != '\0' ? name : "";
}

// The device golden-parity tests run on. Throws Error naming the registered platforms when
// X2V_TEST_PLATFORM names none.
inline Device& test_device() {
  initialize_platforms();
  const std::string name = test_platform_name();
  if (name.empty()) return host_device();
  if (devices().find(name) == nullptr) {
    std::string known;
    for (const std::string& registered : devices().names()) known += (known.empty() ? "" : ", ") + registered;
    throw Error("tests", concat("X2V_TEST_PLATFORM '", name, "' names no registered platform (registered: ",
                                known, "); load its plugin with X2V_PLUGIN_PATH or unset X2V_TEST_PLATFORM"));
  }
  return devices().get(name);
}

// The devices the conformance suite runs on: X2V_TEST_PLATFORM's, else every available one.
inline std::vector<Device*> devices_under_test() {
  initialize_platforms();
  if (!test_platform_name().empty()) return {&test_device()};
  std::vector<Device*> result;
  for (Device* device : devices().all())
    if (device->is_available()) result.push_back(device);
  return result;
}

// A copy of `tensor` on `device` (a host tensor stays as it is on the host device).
inline Tensor on_device(const Tensor& tensor, Device& device) {
  return tensor.defined() ? ops::to_device(tensor, device) : Tensor();
}

// A host copy of a tensor of any device.
inline Tensor on_host(const Tensor& tensor) {
  return tensor.defined() ? ops::to_device(tensor, host_device()) : Tensor();
}

}  // namespace x2v::testing
