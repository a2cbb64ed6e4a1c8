#pragma once
// The server's tasks in SQLite (WAL), so the queue survives a restart or a kill -9: a task's state, its
// request and its result's name are written before the client hears about them. A task found `processing` at
// start-up was cut short; it runs again from the start.
#include <sqlite3.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace x2v::server {

// LightX2V's TaskStatus values.
inline constexpr const char* kPending = "pending";
inline constexpr const char* kProcessing = "processing";
inline constexpr const char* kCompleted = "completed";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kCancelled = "cancelled";

struct TaskRecord {
  std::string id;
  std::string status = kPending;
  nlohmann::json request = nlohmann::json::object();  // the validated fields the client sent
  std::string result;                                 // the result's file name under <cache>/outputs
  std::string error, error_type;
  double created = 0, started = 0, ended = 0;          // seconds since the epoch; 0: not yet
  nlohmann::json progress = nlohmann::json::object();  // stage, step, total, elapsed and eta seconds
  // LightX2V's status JSON (times as ISO 8601 strings, null when not reached) plus x2v's progress.
  nlohmann::json status_json() const;
};

class QueueFull : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class TaskStore {
 public:
  // Opens (or creates) <folder>/tasks.sqlite3.
  explicit TaskStore(const std::string& folder);
  ~TaskStore();
  TaskStore(const TaskStore&) = delete;
  TaskStore& operator=(const TaskStore&) = delete;

  // Tasks left `processing` by a previous process go back to `pending`; returns their ids.
  std::vector<std::string> requeue_interrupted();
  // Adds a pending task; throws QueueFull when `max_active` tasks are pending or processing (LightX2V's
  // message), and std::invalid_argument for an id already used.
  void add(const TaskRecord& task, int max_active);
  // The oldest pending task, now `processing`; nothing when none waits.
  std::optional<TaskRecord> claim_next();
  std::optional<TaskRecord> get(const std::string& id) const;
  std::vector<TaskRecord> list() const;  // oldest first
  void set_progress(const std::string& id, const nlohmann::json& progress);
  // Ends a processing task (a task cancelled meanwhile stays cancelled). Returns whether it changed.
  bool finish(const std::string& id, const std::string& status, const std::string& error = "",
              const std::string& error_type = "");
  // Cancels a pending or processing task; returns the status it had (nothing for an unknown id).
  std::optional<std::string> cancel(const std::string& id);
  // Drops the oldest finished tasks beyond `limit` (LightX2V's task_history_limit).
  void prune(int limit);
  int count(const std::string& status) const;

 private:
  void execute(const std::string& sql) const;
  std::vector<TaskRecord> query(const std::string& where, const std::vector<std::string>& parameters) const;

  sqlite3* db_ = nullptr;
  mutable std::mutex mutex_;
};

// Seconds since the epoch, with fractions.
double now_seconds();

}  // namespace x2v::server
