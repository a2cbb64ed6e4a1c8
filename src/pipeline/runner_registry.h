#pragma once
// The runners by LightX2V's model_cls and task. `x2v infer` asks this table instead of naming a model
// family, so a new family is one registration (register_builtin_runners in runner_registry.cpp).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/model_cache.h"
#include "pipeline/runner.h"
#include "platform/device.h"

namespace x2v {

// Everything a runner is made from; the config is read by the runner (its defaults are the family's).
struct RunnerArguments {
  RunnerArguments() = default;
  RunnerArguments(std::string model_cls, std::string task, std::string model_path, std::string config_json,
                  bool strict = false)
      : model_cls(std::move(model_cls)),
        task(std::move(task)),
        model_path(std::move(model_path)),
        config_json(std::move(config_json)),
        strict(strict) {}

  std::string model_cls, task, model_path, config_json;
  bool strict = false;  // unimplemented or unknown config keys are errors
  // A server request's fields over the config (LightX2V's runner.set_config): only what the request sent.
  nlohmann::json overrides = nlohmann::json::object();
  // Models kept loaded across runners (x2v serve); null: each stage loads and frees its model.
  std::shared_ptr<ModelCache> models;
};

using RunnerFactory =
    std::function<std::unique_ptr<Runner>(const RunnerArguments& arguments, Device& device)>;

struct RunnerEntry {
  std::string model_cls;
  std::vector<std::string> tasks;
  RunnerFactory factory;
};

class RunnerRegistry {
 public:
  void add(RunnerEntry entry);
  // Throws Error listing the registered model classes (or the model's tasks) for one it lacks.
  void check(const std::string& model_cls, const std::string& task) const;
  std::unique_ptr<Runner> create(const RunnerArguments& arguments, Device& device) const;
  std::vector<std::string> model_classes() const;

 private:
  const RunnerEntry& find(const std::string& model_cls, const std::string& task) const;
  std::vector<RunnerEntry> entries_;
};

// The registry with every built-in runner.
const RunnerRegistry& runners();

}  // namespace x2v
