// `x2v serve`: LightX2V's HTTP server (lightx2v.server): the models stay loaded across tasks, the queue lives
// in SQLite under the cache folder, a cancel stops the running task at its next step, and / is a web page.
#include <httplib.h>

#include <cstdlib>
#include <filesystem>

#include "commands.h"
#include "core/log.h"
#include "core/text.h"
#include "pipeline/runner_registry.h"
#include "platform/communicator.h"
#include "platform/platform.h"
#include "server/http_api.h"
#include "server/task_store.h"
#include "server/task_worker.h"
#include "stage_io.h"

namespace x2v::cli {
namespace {

struct ServeArguments {
  server::ServeSettings settings;
  std::string host = "127.0.0.1", cache_dir = "save_results/server_cache", lora_dir, api_key;
  int port = 8000;
  double max_body_mb = 64;
  bool warmup = false;
};

// LightX2V's LIGHTX2V_* variables, for what the command line did not set.
void apply_environment(ServeArguments& arguments, const CLI::App& command) {
  auto value = [](const char* name) -> const char* {
    const char* text = std::getenv(name);
    return text != nullptr && *text != '\0' ? text : nullptr;
  };
  auto number = [](const char* name, const char* text) {
    char* end = nullptr;
    const long parsed = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || parsed < 0 || parsed > 1 << 20)
      throw Error("serve", concat(name, "='", printable(text), "' is not a whole number"));
    return static_cast<int>(parsed);
  };
  if (command.count("--host") == 0 && value("LIGHTX2V_HOST")) arguments.host = value("LIGHTX2V_HOST");
  if (command.count("--port") == 0 && value("LIGHTX2V_PORT"))
    arguments.port = number("LIGHTX2V_PORT", value("LIGHTX2V_PORT"));
  if (command.count("--max_queue_size") == 0 && value("LIGHTX2V_MAX_QUEUE_SIZE"))
    arguments.settings.max_queue_size = number("LIGHTX2V_MAX_QUEUE_SIZE", value("LIGHTX2V_MAX_QUEUE_SIZE"));
  if (command.count("--cache_dir") == 0 && value("LIGHTX2V_CACHE_DIR"))
    arguments.cache_dir = value("LIGHTX2V_CACHE_DIR");
}

void run_serve(ServeArguments arguments) {
  if (launched_world_size() > 1)
    throw Error("serve",
                "x2v serve runs in one process; serving with mpirun (parallel ranks) is not built yet");
  if (arguments.settings.max_queue_size < 1) throw Error("serve", "--max_queue_size must be at least 1");
  if (!arguments.lora_dir.empty() && !std::filesystem::is_directory(arguments.lora_dir))
    throw Error("serve", concat("--lora_dir ", arguments.lora_dir, " is not a folder"));
  Device& device = selected_device();
  const server::ServeSettings& settings = arguments.settings;
  runners().check(settings.model_cls, settings.task);
  // The config and the model are checked (and every file found) before the port opens.
  runners().create(RunnerArguments{settings.model_cls, settings.task, settings.model_path,
                                   settings.config_json, settings.strict},
                   device);
  const server::ServerFolders folders = server::ServerFolders::make(arguments.cache_dir, arguments.lora_dir);
  server::TaskStore store(folders.cache);
  server::TaskWorker worker(store, folders, settings, device);
  if (arguments.warmup) {
    // One short task through the worker's code loads the models before the first client's.
    log_info("serve", "warm-up: one 1-step task loads the models");
    server::TaskRecord task;
    task.id = "warmup-" + server::new_task_id();
    task.request = {{"prompt", "warm-up"}, {"infer_steps", 1}, {"task_id", task.id}};
    task.result = task.id + ".mp4";
    task.created = server::now_seconds();
    store.add(task, 1 << 30);
  }
  worker.start();

  httplib::Server http;
  http.new_task_queue = [] { return new httplib::ThreadPool(32); };  // slow clients and event streams
  server::HttpSettings http_settings;
  http_settings.api_key = arguments.api_key;
  http_settings.max_body_bytes = static_cast<size_t>(arguments.max_body_mb * 1024 * 1024);
  http_settings.model_cls = settings.model_cls;
  http_settings.model_path = settings.model_path;
  http_settings.task = settings.task;
  server::add_routes(http, store, worker, settings, http_settings);
  int port = arguments.port;
  if (port == 0) {
    port = http.bind_to_any_port(arguments.host);
  } else if (!http.bind_to_port(arguments.host, port)) {
    port = -1;
  }
  if (port <= 0)
    throw Error("serve",
                concat("cannot listen on ", arguments.host, ":", arguments.port,
                       " (in use, or not an address of this machine); pick another --port or --host"));
  std::fprintf(stderr, "x2v serve: listening on http://%s:%d (%s %s, queue %d, cache %s%s)\n",
               arguments.host.c_str(), port, settings.model_cls.c_str(), settings.task.c_str(),
               settings.max_queue_size, folders.cache.c_str(),
               arguments.api_key.empty() ? "" : ", API key required");
  if (arguments.host != "127.0.0.1" && arguments.host != "localhost" && arguments.api_key.empty())
    log_warn("serve", "listening on ", arguments.host,
             " without --api_key: anyone who reaches the port can use it");
  std::fflush(stderr);
  http.listen_after_bind();
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto arguments = std::make_shared<ServeArguments>();
  CLI::App* command =
      app.add_subcommand("serve", "Serve LightX2V's HTTP API and a web page (models kept loaded)");
  server::ServeSettings& settings = arguments->settings;
  command->add_option("--model_cls", settings.model_cls, "the model class, as for x2v infer")
      ->capture_default_str();
  command->add_option("--task", settings.task, "t2v or i2v")->capture_default_str();
  command->add_option("--model_path", settings.model_path, "the model directory")->required();
  command->add_option("--config_json", settings.config_json,
                      "LightX2V-style JSON config (the requests' defaults)");
  command->add_option("--host", arguments->host, "address to listen on (LIGHTX2V_HOST)")
      ->capture_default_str();
  command->add_option("--port", arguments->port, "port (LIGHTX2V_PORT; 0: any free port)")
      ->capture_default_str();
  command
      ->add_option("--max_queue_size", settings.max_queue_size,
                   "pending + processing tasks before 503 (LIGHTX2V_MAX_QUEUE_SIZE)")
      ->capture_default_str();
  command
      ->add_option("--cache_dir", arguments->cache_dir,
                   "tasks database, uploads and results (LIGHTX2V_CACHE_DIR)")
      ->capture_default_str();
  command->add_option("--lora_dir", arguments->lora_dir, "LoRA files a request may name with lora_name");
  command->add_flag("--warmup", arguments->warmup, "run one short task at start so the models are loaded");
  command->add_option("--api_key", arguments->api_key,
                      "require Authorization: Bearer KEY on every endpoint but /health and /");
  command->add_option("--max_body_mb", arguments->max_body_mb, "largest request body or upload, in MiB")
      ->capture_default_str();
  add_strict_flag(command, settings.strict);
  command->callback([arguments, command] {
    ServeArguments resolved = *arguments;
    apply_environment(resolved, *command);
    run_serve(resolved);
  });
}

}  // namespace x2v::cli
