#pragma once
// A registry of named kernels for one op category on one platform. Backends add their kernels at
// platform init (explicitly, never through static initializers), each with the traits it accepts; configs
// pick them by name. LightX2V's names resolve through one shared table (lightx2v_names.h) to the
// platform's default kernel of the right weight format; plugins may add aliases of their own.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "platform/kernel_traits.h"
#include "platform/lightx2v_names.h"
#include "platform/profiler.h"

namespace x2v {

template <class Kernel>
class KernelRegistry {
 public:
  using KernelType = Kernel;
  using Factory = std::function<std::unique_ptr<Kernel>()>;

  // `category` and `platform` appear in error messages ("attention", "cpu").
  KernelRegistry(std::string category, std::string platform)
      : category_(std::move(category)), platform_(std::move(platform)) {}

  void add(const std::string& name, Factory factory, std::string description = "", KernelTraits traits = {}) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!factory) throw InternalError("registry", concat(category_, " kernel '", name, "' has no factory"));
    entries_[name] = Entry{std::move(factory), std::move(description), std::move(traits)};
  }

  // `alias` selects `target` (a kernel or another alias). The first use logs which kernel runs.
  void alias(const std::string& alias_name, const std::string& target) {
    std::lock_guard<std::mutex> lock(mutex_);
    aliases_[alias_name] = target;
  }

  // The kernel an empty name (and LightX2V's names of its weight format) selects: the platform's best.
  // One default per weight format: set_default("int8-cpu") makes it the int8 schemes' kernel.
  void set_default(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(name);
    if (found == entries_.end())
      throw InternalError("registry",
                          concat("default ", category_, " kernel '", name, "' is not registered"));
    defaults_[found->second.traits.quant] = name;
  }

  bool has_default() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return defaults_.count(QuantFormat::none) != 0;
  }
  std::string default_name(QuantFormat format = QuantFormat::none) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = defaults_.find(format);
    return found == defaults_.end() ? "" : found->second;
  }

  bool contains(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.count(name) || aliases_.count(name);
  }

  // True when `name` selects a kernel here: a kernel, an alias, a LightX2V name or "" with a kernel behind.
  bool resolves(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return !resolve_locked(name, false).empty();
  }

  // The kernel name `name` selects. Throws listing the names that exist.
  std::string resolve(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return resolve_locked(name, true);
  }

  // The traits of the kernel `name` selects.
  KernelTraits traits(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.at(resolve_locked(name, true)).traits;
  }

  std::unique_ptr<Kernel> create(const std::string& name) const {
    std::unique_ptr<Kernel> kernel;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      kernel = entries_.at(resolve_locked(name, true)).factory();
    }
    return profiled(std::move(kernel), category_);
  }

  // A shared instance per name, for stateless kernels (elementwise ops).
  Kernel& shared(const std::string& name) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = shared_.find(name);
      if (found != shared_.end()) return *found->second;
    }
    std::unique_ptr<Kernel> kernel = create(name);
    std::lock_guard<std::mutex> lock(mutex_);
    auto [position, inserted] = shared_.emplace(name, std::move(kernel));
    return *position->second;
  }

  // Registered kernel names (aliases excluded), sorted.
  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> result;
    for (const auto& [name, entry] : entries_) result.push_back(name);
    return result;
  }

  // Registered aliases (alias -> target); LightX2V's names are not listed here (see lightx2v_names()).
  std::map<std::string, std::string> aliases() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return aliases_;
  }

  // LightX2V's names of this category that select a kernel here, with the kernel each selects.
  std::map<std::string, std::string> lightx2v_names() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::string, std::string> result;
    for (const LightX2VKernelName& entry : lightx2v_kernel_names()) {
      if (entry.category != category_ || entries_.count(entry.name) || aliases_.count(entry.name)) continue;
      const std::string target = lightx2v_target_locked(entry);
      if (!target.empty()) result[entry.name] = target;
    }
    return result;
  }

  std::string description(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(name);
    return found == entries_.end() ? "" : found->second.description;
  }

  const std::string& category() const { return category_; }
  const std::string& platform() const { return platform_; }

 private:
  struct Entry {
    Factory factory;
    std::string description;
    KernelTraits traits;
  };

  // The default kernel of the entry's weight format ("" when the platform has none).
  std::string lightx2v_target_locked(const LightX2VKernelName& entry) const {
    auto found = defaults_.find(entry.quant);
    return found != defaults_.end() && entries_.count(found->second) ? found->second : "";
  }

  std::string resolve_locked(const std::string& name, bool throw_when_unknown) const {
    if (name.empty()) {
      auto found = defaults_.find(QuantFormat::none);
      if (found != defaults_.end() && entries_.count(found->second)) return found->second;
      if (!throw_when_unknown) return "";
      throw Error("platform", concat("platform '", platform_, "' has no default ", category_,
                                     " kernel; name one (available: ", join_names_locked(), ")"));
    }
    if (entries_.count(name)) return name;
    // An alias may name another alias (a plugin's name for another plugin name); a few hops, no loops.
    std::string target = name;
    for (int hop = 0; hop < 8; ++hop) {
      auto alias = aliases_.find(target);
      if (alias == aliases_.end()) break;
      target = alias->second;
      if (entries_.count(target)) {
        log_once(LogLevel::info, "platform",
                 concat(category_, " '", name, "' runs as ", platform_, " kernel '", target, "'"));
        return target;
      }
    }
    if (const LightX2VKernelName* entry = find_lightx2v_kernel_name(category_, name)) {
      const std::string kernel = lightx2v_target_locked(*entry);
      if (!kernel.empty()) {
        log_once(LogLevel::info, "platform",
                 concat(category_, " '", name, "' runs as ", platform_, " kernel '", kernel, "'"));
        return kernel;
      }
    }
    if (!throw_when_unknown) return "";
    throw Error("platform", concat("unknown ", category_, " kernel '", name, "' on platform '", platform_,
                                   "'; available: ", join_names_locked()));
  }

  std::string join_names_locked() const {
    std::string text;
    for (const auto& [name, entry] : entries_) text += (text.empty() ? "" : ", ") + name;
    for (const auto& [name, target] : aliases_)
      if (entries_.count(target) || aliases_.count(target)) text += ", " + name + " (= " + target + ")";
    for (const LightX2VKernelName& entry : lightx2v_kernel_names()) {
      if (entry.category != category_ || entries_.count(entry.name) || aliases_.count(entry.name)) continue;
      const std::string target = lightx2v_target_locked(entry);
      if (!target.empty()) text += ", " + entry.name + " (= " + target + ")";
    }
    return text.empty() ? "(none)" : text;
  }

  std::string category_;
  std::string platform_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> aliases_;
  std::map<QuantFormat, std::string> defaults_;
  std::map<std::string, std::unique_ptr<Kernel>> shared_;
};

}  // namespace x2v
