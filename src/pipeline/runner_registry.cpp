#include "pipeline/runner_registry.h"

#include <algorithm>

#include "core/error.h"
#include "pipeline/wan_runner.h"

namespace x2v {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// LightX2V's model classes that x2v has no runner for yet, and what is missing.
std::string missing_runner_hint(const std::string& model_cls) {
  if (model_cls.starts_with("wan2.2")) return " (of Wan2.2, x2v runs wan2.2 (TI2V-5B) and wan2.2_moe (A14B))";
  if (model_cls.starts_with("ltx")) return " (LTX-2 is not built yet)";
  return "";
}

}  // namespace

void RunnerRegistry::add(RunnerEntry entry) {
  for (const RunnerEntry& existing : entries_)
    if (existing.model_cls == entry.model_cls)
      throw InternalError("runners", concat("model_cls '", entry.model_cls, "' is registered twice"));
  entries_.push_back(std::move(entry));
}

const RunnerEntry& RunnerRegistry::find(const std::string& model_cls, const std::string& task) const {
  auto found = std::find_if(entries_.begin(), entries_.end(),
                            [&](const RunnerEntry& entry) { return entry.model_cls == model_cls; });
  if (found == entries_.end())
    throw Error("infer", concat("unknown --model_cls '", model_cls, "'", missing_runner_hint(model_cls),
                                "; supported: ", join(model_classes())));
  if (std::find(found->tasks.begin(), found->tasks.end(), task) == found->tasks.end())
    throw Error("infer", concat("unsupported --task '", task, "' for ", model_cls,
                                "; supported: ", join(found->tasks)));
  return *found;
}

void RunnerRegistry::check(const std::string& model_cls, const std::string& task) const {
  find(model_cls, task);
}

std::unique_ptr<Runner> RunnerRegistry::create(const RunnerArguments& arguments, Device& device) const {
  return find(arguments.model_cls, arguments.task).factory(arguments, device);
}

std::vector<std::string> RunnerRegistry::model_classes() const {
  std::vector<std::string> names;
  for (const RunnerEntry& entry : entries_) names.push_back(entry.model_cls);
  return names;
}

const RunnerRegistry& runners() {
  static const RunnerRegistry registry = [] {
    RunnerRegistry table;
    register_wan_runners(table);
    return table;
  }();
  return registry;
}

}  // namespace x2v
