#include "server/task_worker.h"

#include <filesystem>

#include "core/log.h"
#include "core/progress.h"
#include "pipeline/runner_registry.h"

namespace x2v::server {
namespace {

// Thrown from the progress observer to stop a cancelled task where it stands.
struct TaskCancelled : std::runtime_error {
  TaskCancelled() : std::runtime_error("cancelled") {}
};

// Files a killed process left half-written in `folder` (AtomicFile's hidden temporaries).
void remove_partial_outputs(const std::string& folder) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name.find(".tmp-") != std::string::npos)
      std::filesystem::remove_all(entry.path(), error);
  }
}

}  // namespace

TaskWorker::TaskWorker(TaskStore& store, ServerFolders folders, ServeSettings settings, Device& device)
    : store_(store), folders_(std::move(folders)), settings_(std::move(settings)), device_(device) {}

TaskWorker::~TaskWorker() {
  stopping_ = true;
  cancel_current_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TaskWorker::start() {
  const std::vector<std::string> interrupted = store_.requeue_interrupted();
  if (!interrupted.empty()) {
    remove_partial_outputs(folders_.outputs);
    log_info("serve", interrupted.size(), " task(s) cut short by the last stop run again from the start");
  }
  thread_ = std::thread([this] { loop(); });
}

void TaskWorker::notify() {
  wake_.notify_all();
}

void TaskWorker::changed() {
  ++changes_;
  change_.notify_all();
}

uint64_t TaskWorker::wait_for_change(uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  change_.wait_for(lock, timeout, [&] { return changes_.load() != seen || stopping_.load(); });
  return changes_.load();
}

void TaskWorker::cancel_if_running(const std::string& id) {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (current_ == id) cancel_current_ = true;
  }
  changed();
}

std::string TaskWorker::current_task() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

void TaskWorker::loop() {
  while (!stopping_) {
    std::optional<TaskRecord> task = store_.claim_next();
    if (!task) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(500));
      continue;
    }
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      current_ = task->id;
      cancel_current_ = false;
    }
    changed();
    run(*task);
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      current_.clear();
    }
    store_.prune(settings_.history_limit);
    changed();
  }
}

void TaskWorker::run(const TaskRecord& task) {
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start - std::chrono::seconds(1);
  std::string last_stage;
  // Every progress report of the runner's stages: recorded for /status and the event stream, and the
  // point where a cancel takes effect.
  struct ObserverScope {  // the worker's observer for this task only
    ProgressObserver previous;
    ~ObserverScope() { set_thread_progress_observer(std::move(previous)); }
  };
  const ObserverScope scope{set_thread_progress_observer([&](const ProgressEvent& event) {
    if (cancel_current_ || stopping_) throw TaskCancelled();
    const auto now = std::chrono::steady_clock::now();
    if (event.stage == last_stage && event.done != event.total &&
        now - last_report < std::chrono::milliseconds(200))
      return;
    last_stage = event.stage;
    last_report = now;
    store_.set_progress(task.id, {{"stage", event.stage},
                                  {"step", event.done},
                                  {"total", event.total},
                                  {"elapsed_seconds", event.elapsed_seconds},
                                  {"eta_seconds", event.eta_seconds}});
    changed();
  })};
  try {
    const TaskRequest request = parse_task_request(task.request, folders_, settings_.task);
    GenerationRequest generation = request.generation;
    generation.save_result_path = output_path(task.result, folders_);
    std::filesystem::create_directories(std::filesystem::path(generation.save_result_path).parent_path());
    RunnerArguments arguments{settings_.model_cls, settings_.task, settings_.model_path,
                              settings_.config_json, settings_.strict};
    arguments.overrides = request.overrides;
    arguments.models = models_;
    const std::unique_ptr<Runner> runner = runners().create(arguments, device_);
    runner->check_request(generation);
    runner->run(generation);
    if (!store_.finish(task.id, kCompleted)) {
      // Cancelled between its last step and its end: the cancel stands, and so does "no file".
      std::error_code error;
      std::filesystem::remove(generation.save_result_path, error);
      return;
    }
    log_info("serve", "task ", task.id, " completed in ",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), " s");
  } catch (const TaskCancelled&) {
    log_info("serve", "task ", task.id,
             " cancelled");  // the store already says so; the writers removed their files
  } catch (const RequestError& error) {
    store_.finish(task.id, kFailed, error.what(), "RequestError");
  } catch (const Error& error) {
    store_.finish(task.id, kFailed, error.what(), "Error");
    log_warn("serve", "task ", task.id, " failed: ", error.what());
  } catch (const std::exception& error) {
    store_.finish(task.id, kFailed, error.what(), "InternalError");
    log_warn("serve", "task ", task.id, " failed: ", error.what());
  }
}

}  // namespace x2v::server
