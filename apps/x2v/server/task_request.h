#pragma once
// LightX2V's task request (VideoTaskRequest, as JSON or as the multipart form), checked field by field: an
// unknown or mistyped field is a RequestError naming it (422), a bad image a RequestError with 400. Only the
// fields the client sent override the server's config, as in LightX2V.
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "pipeline/runner.h"

namespace x2v::server {

struct RequestError : std::runtime_error {
  RequestError(int status, std::string field, const std::string& message)
      : std::runtime_error(message), status(status), field(std::move(field)) {}
  int status;         // 422 (a field), 400 (the image), 403 (a path outside the cache)
  std::string field;  // the body field at fault
  // FastAPI's error body: {"detail": [{"loc": ["body", field], "msg": ..., "type": ...}]}.
  nlohmann::json body() const;
};

// Where a server keeps its files: <cache>/inputs/imgs (uploaded images), <cache>/outputs (results).
struct ServerFolders {
  std::string cache, inputs, outputs, lora;  // lora: --lora_dir ("" when none)
  static ServerFolders make(const std::string& cache, const std::string& lora_dir);
};

// A request checked and resolved: its id, what the runner gets, the config fields it overrides, the
// result's file name under outputs.
struct TaskRequest {
  std::string task_id;
  GenerationRequest
      generation;  // prompt, negative prompt, seed, image path; save_result_path set at run time
  nlohmann::json overrides = nlohmann::json::object();
  std::string result_name;
  nlohmann::json sent = nlohmann::json::object();  // the fields as the client sent them (kept with the task)
};

// A JSON body. `task` is "t2v" or "i2v" (an image is required for i2v, refused for t2v).
TaskRequest parse_task_request(const nlohmann::json& body, const ServerFolders& folders,
                               const std::string& task);
// A new id in LightX2V's format XXXX-XXXX-XXXX-XXXX-XXXX (A-Z, 0-9).
std::string new_task_id();
// An uploaded image saved under inputs/imgs as <random><ext> after it decodes; returns its path.
std::string save_uploaded_image(const std::string& bytes, const std::string& file_name,
                                const ServerFolders& folders);
// A result name (save_result_path or a download name) as a path inside outputs; throws RequestError(403) for
// one that would leave it.
std::string output_path(const std::string& name, const ServerFolders& folders);

}  // namespace x2v::server
