#pragma once
// A registry of named kernels for one op category on one platform. Backends add their kernels at
// platform init (explicitly, never through static initializers); configs pick them by name. Aliases map
// the names LightX2V configs use onto a kernel that computes the same math.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "platform/profiler.h"

namespace x2v {

template <class Kernel>
class KernelRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Kernel>()>;

  // `category` and `platform` appear in error messages ("attention", "cpu").
  KernelRegistry(std::string category, std::string platform)
      : category_(std::move(category)), platform_(std::move(platform)) {}

  void add(const std::string& name, Factory factory, std::string description = "") {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!factory) throw InternalError("registry", concat(category_, " kernel '", name, "' has no factory"));
    entries_[name] = Entry{std::move(factory), std::move(description)};
  }

  // `alias` selects `target`. The first use logs which kernel the alias stands for.
  void alias(const std::string& alias_name, const std::string& target) {
    std::lock_guard<std::mutex> lock(mutex_);
    aliases_[alias_name] = target;
  }

  // The kernel an empty name selects: the platform's best for the category.
  void set_default(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    default_ = name;
  }

  bool contains(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.count(name) || aliases_.count(name);
  }

  // The kernel name `name` selects (itself, or an alias target). Throws listing the names that exist.
  std::string resolve(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (name.empty() && entries_.count(default_)) return default_;
    if (entries_.count(name)) return name;
    // An alias may name another alias (a plugin's name for a LightX2V name); a few hops at most, no loops.
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
    throw Error("platform", concat("unknown ", category_, " kernel '", name, "' on platform '", platform_,
                                   "'; available: ", join_names_locked()));
  }

  std::unique_ptr<Kernel> create(const std::string& name) const {
    const std::string resolved = resolve(name);
    std::unique_ptr<Kernel> kernel;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      kernel = entries_.at(resolved).factory();
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

  std::map<std::string, std::string> aliases() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return aliases_;
  }

  std::string description(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(name);
    return found == entries_.end() ? "" : found->second.description;
  }

  const std::string& category() const { return category_; }

 private:
  struct Entry {
    Factory factory;
    std::string description;
  };

  std::string join_names_locked() const {
    std::string text;
    for (const auto& [name, entry] : entries_) text += (text.empty() ? "" : ", ") + name;
    for (const auto& [name, target] : aliases_)
      if (entries_.count(target) || aliases_.count(target)) text += ", " + name + " (= " + target + ")";
    return text.empty() ? "(none)" : text;
  }

  std::string category_;
  std::string platform_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> aliases_;
  std::string default_;
  std::map<std::string, std::unique_ptr<Kernel>> shared_;
};

}  // namespace x2v
