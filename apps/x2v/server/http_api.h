#pragma once
// LightX2V's HTTP API on cpp-httplib (paths, fields, JSON shapes and status codes of lightx2v.server), plus
// x2v's event stream (/v1/tasks/{id}/events) and the web page at /.
#include <string>

#include <httplib.h>

#include "server/task_store.h"
#include "server/task_worker.h"

namespace x2v::server {

struct HttpSettings {
  std::string api_key;                      // "": no authentication
  size_t max_body_bytes = 64 << 20;         // JSON bodies and uploads
  std::string model_cls, model_path, task;  // for /v1/service/metadata and the page
};

// Registers every route on `server`.
void add_routes(httplib::Server& server, TaskStore& store, TaskWorker& worker, const ServeSettings& serve,
                const HttpSettings& http);

// The page served at / (plain HTML, CSS and JavaScript; no build step, no CDN).
const std::string& web_page();

}  // namespace x2v::server
