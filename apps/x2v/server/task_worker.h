#pragma once
// The one worker of `x2v serve`: runs the queue's tasks strictly one at a time in order (as LightX2V does)
// with the models kept warm between them, records each task's stage, step and ETA, and stops a cancelled
// task at its next denoising step or VAE chunk, leaving no partial file.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pipeline/model_cache.h"
#include "platform/device.h"
#include "server/task_request.h"
#include "server/task_store.h"

namespace x2v::server {

struct ServeSettings {
  std::string model_cls = "wan2.1", task = "t2v", model_path, config_json;
  bool strict = false;
  int max_queue_size = 10;   // pending + processing, as LightX2V counts
  int history_limit = 1000;  // finished tasks kept (LightX2V's task_history_limit)
};

class TaskWorker {
 public:
  TaskWorker(TaskStore& store, ServerFolders folders, ServeSettings settings, Device& device);
  ~TaskWorker();  // cancels the running task and joins the thread

  void start();
  // A task was added.
  void notify();
  // The task `id` was cancelled in the store; if it is the one running, it stops at its next step.
  void cancel_if_running(const std::string& id);
  // The running task's id ("" when idle).
  std::string current_task() const;
  // Changes (a task's state or progress) bump a counter; waits up to `timeout` for it to pass `seen`.
  uint64_t wait_for_change(uint64_t seen, std::chrono::milliseconds timeout);
  uint64_t changes() const { return changes_.load(); }
  const ModelCache& models() const { return *models_; }
  const ServerFolders& folders() const { return folders_; }

 private:
  void loop();
  void run(const TaskRecord& task);
  void changed();

  TaskStore& store_;
  ServerFolders folders_;
  ServeSettings settings_;
  Device& device_;
  std::shared_ptr<ModelCache> models_ = std::make_shared<ModelCache>();
  std::thread thread_;
  std::atomic<bool> stopping_{false}, cancel_current_{false};
  mutable std::mutex mutex_;
  std::condition_variable wake_, change_;
  std::string current_;
  std::atomic<uint64_t> changes_{0};
};

}  // namespace x2v::server
