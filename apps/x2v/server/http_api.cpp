#include "server/http_api.h"

#include <filesystem>
#include <fstream>

#include "core/log.h"
#include "core/text.h"

namespace x2v::server {
namespace fs = std::filesystem;
namespace {

void send_json(httplib::Response& response, int status, const nlohmann::json& body) {
  response.status = status;
  response.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& response, int status, const std::string& message) {
  send_json(response, status, {{"detail", message}});
}

std::string content_type_of(const std::string& path) {
  const std::string extension = fs::path(path).extension().string();
  if (extension == ".mp4") return "video/mp4";
  if (extension == ".png") return "image/png";
  if (extension == ".jpg" || extension == ".jpeg") return "image/jpeg";
  return "application/octet-stream";
}

// Streams `path` in 1 MiB chunks with Content-Length; httplib answers Range requests from the provider.
void send_file(httplib::Response& response, const std::string& path) {
  std::error_code error;
  const uintmax_t size = fs::file_size(path, error);
  if (error) return send_error(response, 404, "the result file is gone");
  response.set_header("Content-Disposition",
                      concat("attachment; filename=\"", fs::path(path).filename().string(), "\""));
  response.set_header("Accept-Ranges", "bytes");
  response.set_content_provider(static_cast<size_t>(size), content_type_of(path),
                                [path](size_t offset, size_t length, httplib::DataSink& sink) {
                                  std::ifstream file(path, std::ios::binary);
                                  file.seekg(static_cast<std::streamoff>(offset));
                                  std::vector<char> buffer(std::min<size_t>(length, 1 << 20));
                                  file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
                                  const std::streamsize got = file.gcount();
                                  if (got <= 0) return false;
                                  sink.write(buffer.data(), static_cast<size_t>(got));
                                  return true;
                                });
}

nlohmann::json queue_status(TaskStore& store, TaskWorker& worker, const ServeSettings& serve) {
  const int pending = store.count(kPending), processing = store.count(kProcessing);
  const std::string current = worker.current_task();
  return {{"is_processing", !current.empty()},
          {"current_task", current.empty() ? nlohmann::json() : nlohmann::json(current)},
          {"pending_count", pending},
          {"active_count", pending + processing},
          {"queue_size", serve.max_queue_size},
          {"queue_available", serve.max_queue_size - pending - processing}};
}

void create_task(const nlohmann::json& body, TaskStore& store, TaskWorker& worker, const ServeSettings& serve,
                 httplib::Response& response) {
  try {
    const TaskRequest request = parse_task_request(body, worker.folders(), serve.task);
    TaskRecord task;
    task.id = request.task_id;
    task.request = request.sent;
    task.request["task_id"] = request.task_id;
    // The image was decoded and saved once, here: the worker reads that file, not the base64 again.
    if (!request.generation.image_path.empty())
      task.request["image_path"] = fs::path(request.generation.image_path).filename().string();
    task.result = request.result_name;
    task.created = now_seconds();
    store.add(task, serve.max_queue_size);
    worker.notify();
    send_json(response, 200,
              {{"task_id", task.id}, {"task_status", kPending}, {"save_result_path", task.result}});
  } catch (const RequestError& error) {
    send_json(response, error.status, error.body());
  } catch (const QueueFull& error) {
    send_error(response, 503, error.what());
  } catch (const std::invalid_argument& error) {
    send_error(response, 503, error.what());
  }
}

// The multipart form's fields arrive as text; the typed ones become JSON numbers as FastAPI would coerce
// them.
nlohmann::json form_body(const httplib::Request& request, TaskWorker& worker) {
  static const std::vector<std::string> integers = {"infer_steps", "target_video_length", "seed",
                                                    "num_fragments", "target_fps"};
  nlohmann::json body = nlohmann::json::object();
  for (const auto& [name, file] : request.files) {
    if (!file.filename.empty()) continue;
    if (std::find(integers.begin(), integers.end(), name) != integers.end()) {
      try {
        size_t used = 0;
        const long long value = std::stoll(file.content, &used);
        if (used != file.content.size()) throw std::invalid_argument("trailing");
        body[name] = value;
      } catch (const std::exception&) {
        throw RequestError(422, name,
                           concat(name, " must be an integer, not '", printable(file.content), "'"));
      }
    } else if (name == "use_prompt_enhancer") {
      body[name] = file.content == "true" || file.content == "1";
    } else if (name == "video_duration") {
      body[name] = std::atof(file.content.c_str());
    } else {
      body[name] = file.content;
    }
  }
  if (!request.has_file("image_file") || request.get_file_value("image_file").filename.empty())
    throw RequestError(422, "image_file", "the form needs image_file (a PNG or JPEG)");
  const auto& image = request.get_file_value("image_file");
  const std::string saved = save_uploaded_image(image.content, image.filename, worker.folders());
  body["image_path"] = fs::path(saved).filename().string();  // inside inputs/imgs
  return body;
}

}  // namespace

void add_routes(httplib::Server& server, TaskStore& store, TaskWorker& worker, const ServeSettings& serve,
                const HttpSettings& http) {
  server.set_payload_max_length(http.max_body_bytes);
  const std::string api_key = http.api_key;
  server.set_pre_routing_handler([api_key](const httplib::Request& request, httplib::Response& response) {
    if (api_key.empty() || request.path == "/health" || request.path == "/")
      return httplib::Server::HandlerResponse::Unhandled;
    if (request.get_header_value("Authorization") == "Bearer " + api_key)
      return httplib::Server::HandlerResponse::Unhandled;
    response.set_header("WWW-Authenticate", "Bearer");
    send_error(response, 401, "missing or wrong API key: send Authorization: Bearer <key>");
    return httplib::Server::HandlerResponse::Handled;
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (response.body.empty())
      send_error(response, response.status,
                 response.status == 413 ? "the request body is larger than the server accepts"
                                        : concat("HTTP ", response.status));
  });

  server.Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(web_page(), "text/html; charset=utf-8");
  });
  server.Get("/health", [](const httplib::Request&, httplib::Response& response) {
    send_json(response, 200, {{"status", "ok"}});
  });

  const auto create_json = [&store, &worker, serve](const httplib::Request& request,
                                                    httplib::Response& response) {
    const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded())
      return send_json(response, 422, RequestError(422, "", "the body is not valid JSON").body());
    create_task(body, store, worker, serve, response);
  };
  for (const char* path : {"/v1/tasks/video/", "/v1/tasks/video", "/v1/tasks/", "/v1/tasks"})
    server.Post(path, create_json);
  const auto create_form = [&store, &worker, serve](const httplib::Request& request,
                                                    httplib::Response& response) {
    try {
      create_task(form_body(request, worker), store, worker, serve, response);
    } catch (const RequestError& error) {
      send_json(response, error.status, error.body());
    }
  };
  server.Post("/v1/tasks/video/form", create_form);

  server.Get(R"(/v1/tasks/?)", [&store](const httplib::Request&, httplib::Response& response) {
    nlohmann::json all = nlohmann::json::object();
    for (const TaskRecord& task : store.list()) all[task.id] = task.status_json();
    send_json(response, 200, all);
  });
  server.Get("/v1/tasks/queue/status",
             [&store, &worker, serve](const httplib::Request&, httplib::Response& response) {
               send_json(response, 200, queue_status(store, worker, serve));
             });
  server.Get(R"(/v1/tasks/([^/]+)/status)",
             [&store](const httplib::Request& request, httplib::Response& response) {
               const std::optional<TaskRecord> task = store.get(request.matches[1]);
               if (!task) return send_error(response, 404, "Task not found");
               send_json(response, 200, task->status_json());
             });
  server.Get(R"(/v1/tasks/([^/]+)/result)",
             [&store, &worker](const httplib::Request& request, httplib::Response& response) {
               const std::optional<TaskRecord> task = store.get(request.matches[1]);
               if (!task) return send_error(response, 404, "Task not found");
               if (task->status != kCompleted) return send_error(response, 404, "Task not completed");
               try {
                 send_file(response, output_path(task->result, worker.folders()));
               } catch (const RequestError& error) {
                 send_error(response, 403, error.what());
               }
             });
  // x2v's own: the task's status as server-sent events, one each time it changes, until it ends.
  server.Get(R"(/v1/tasks/([^/]+)/events)",
             [&store, &worker](const httplib::Request& request, httplib::Response& response) {
               const std::string id = request.matches[1];
               if (!store.get(id)) return send_error(response, 404, "Task not found");
               response.set_header("Cache-Control", "no-cache");
               auto last_sent = std::make_shared<std::string>();
               response.set_chunked_content_provider(
                   "text/event-stream", [&store, &worker, id, last_sent](size_t, httplib::DataSink& sink) {
                     const uint64_t seen = worker.changes();
                     const std::optional<TaskRecord> task = store.get(id);
                     if (!task) {
                       sink.done();
                       return true;
                     }
                     const std::string event = task->status_json().dump();
                     if (event != *last_sent) {
                       const std::string message = concat("data: ", event, "\n\n");
                       if (!sink.write(message.data(), message.size())) return false;
                       *last_sent = event;
                     }
                     if (task->status != kPending && task->status != kProcessing) {
                       sink.done();
                       return true;
                     }
                     if (worker.wait_for_change(seen, std::chrono::seconds(10)) == seen) {
                       static const std::string keepalive = ": keep-alive\n\n";
                       if (!sink.write(keepalive.data(), keepalive.size())) return false;
                     }
                     return true;
                   });
             });
  server.Delete("/v1/tasks/all/running",
                [&store, &worker](const httplib::Request&, httplib::Response& response) {
                  int cancelled = 0;
                  for (const TaskRecord& task : store.list())
                    if (task.status == kPending || task.status == kProcessing) {
                      store.cancel(task.id);
                      worker.cancel_if_running(task.id);
                      ++cancelled;
                    }
                  send_json(response, 200,
                            {{"stop_status", cancelled ? "success" : "do_nothing"},
                             {"reason", concat(cancelled, " task(s) cancelled")}});
                });
  server.Delete(R"(/v1/tasks/([^/]+))", [&store, &worker](const httplib::Request& request,
                                                          httplib::Response& response) {
    const std::string id = request.matches[1];
    const std::optional<std::string> previous = store.cancel(id);
    if (!previous)
      return send_json(response, 200, {{"stop_status", "do_nothing"}, {"reason", "Task not found"}});
    if (*previous != kPending && *previous != kProcessing)
      return send_json(response, 200,
                       {{"stop_status", "do_nothing"}, {"reason", concat("Task already ", *previous)}});
    worker.cancel_if_running(id);
    send_json(response, 200, {{"stop_status", "success"}, {"reason", concat("Task ", id, " cancelled")}});
  });
  server.Get(R"(/v1/files/download/(.+))",
             [&worker](const httplib::Request& request, httplib::Response& response) {
               try {
                 const std::string path = output_path(request.matches[1], worker.folders());
                 if (!fs::is_regular_file(path)) return send_error(response, 404, "File not found");
                 send_file(response, path);
               } catch (const RequestError& error) {
                 send_error(response, 403, error.what());
               }
             });
  server.Get("/v1/service/status",
             [&store, &worker, serve](const httplib::Request&, httplib::Response& response) {
               const std::string current = worker.current_task();
               nlohmann::json active = nlohmann::json::array();
               if (!current.empty()) active.push_back(current);
               send_json(response, 200,
                         {{"service_status", current.empty() ? "idle" : "busy"},
                          {"current_task", current.empty() ? nlohmann::json() : nlohmann::json(current)},
                          {"active_tasks", active},
                          {"pending_tasks", store.count(kPending)},
                          {"queue_size", serve.max_queue_size},
                          {"total_tasks", static_cast<int>(store.list().size())},
                          {"completed_tasks", store.count(kCompleted)},
                          {"failed_tasks", store.count(kFailed)},
                          {"models_loaded", worker.models().loads()}});
             });
  server.Get("/v1/service/metadata", [http](const httplib::Request&, httplib::Response& response) {
    send_json(response, 200,
              {{"nproc_per_node", 1},
               {"model_cls", http.model_cls},
               {"model_path", http.model_path},
               {"task", http.task}});
  });
}

}  // namespace x2v::server
