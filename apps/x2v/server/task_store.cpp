#include "server/task_store.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "core/error.h"
#include "core/text.h"

namespace x2v::server {
namespace {

constexpr const char* kPlace = "serve";

std::string iso_time(double seconds) {
  if (seconds <= 0) return "";
  const std::time_t whole = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  const int micro = static_cast<int>((seconds - static_cast<double>(whole)) * 1e6);
  char full[64];
  std::snprintf(full, sizeof full, "%s.%06d", text, micro);
  return full;
}

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement_, nullptr) != SQLITE_OK)
      throw Error(kPlace, concat("task database: ", sqlite3_errmsg(db), " in ", sql));
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement& bind(int index, const std::string& value) {
    sqlite3_bind_text(statement_, index, value.c_str(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, double value) {
    sqlite3_bind_double(statement_, index, value);
    return *this;
  }
  Statement& bind_integer(int index, int64_t value) {
    sqlite3_bind_int64(statement_, index, value);
    return *this;
  }
  bool step() {
    const int status = sqlite3_step(statement_);
    if (status == SQLITE_ROW) return true;
    if (status == SQLITE_DONE) return false;
    throw Error(kPlace, concat("task database: ", sqlite3_errmsg(db_)));
  }
  std::string text(int column) const {
    const unsigned char* value = sqlite3_column_text(statement_, column);
    return value ? reinterpret_cast<const char*>(value) : "";
  }
  double number(int column) const { return sqlite3_column_double(statement_, column); }

 private:
  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
};

constexpr const char* kColumns =
    "id, status, request, result, error, error_type, created, started, ended, progress";

TaskRecord read_record(const Statement& row) {
  TaskRecord task;
  task.id = row.text(0);
  task.status = row.text(1);
  task.request = nlohmann::json::parse(row.text(2), nullptr, false);
  task.result = row.text(3);
  task.error = row.text(4);
  task.error_type = row.text(5);
  task.created = row.number(6);
  task.started = row.number(7);
  task.ended = row.number(8);
  const std::string progress = row.text(9);
  task.progress =
      progress.empty() ? nlohmann::json::object() : nlohmann::json::parse(progress, nullptr, false);
  return task;
}

}  // namespace

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

nlohmann::json TaskRecord::status_json() const {
  auto time_or_null = [](double seconds) {
    return seconds > 0 ? nlohmann::json(iso_time(seconds)) : nlohmann::json();
  };
  return {{"task_id", id},
          {"status", status},
          {"start_time", time_or_null(started > 0 ? started : created)},
          {"end_time", time_or_null(ended)},
          {"error", error.empty() ? nlohmann::json() : nlohmann::json(error)},
          {"error_type", error_type.empty() ? nlohmann::json() : nlohmann::json(error_type)},
          {"save_result_path", result},
          {"progress", progress}};
}

TaskStore::TaskStore(const std::string& folder) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  const std::string path = (std::filesystem::path(folder) / "tasks.sqlite3").string();
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK)
    throw Error(kPlace, concat("cannot open the task database ", path, ": ",
                               db_ ? sqlite3_errmsg(db_) : "out of memory", "; check --cache_dir"));
  sqlite3_busy_timeout(db_, 5000);
  execute("PRAGMA journal_mode=WAL");
  execute("PRAGMA synchronous=NORMAL");  // WAL: a killed process loses nothing committed
  execute(
      "CREATE TABLE IF NOT EXISTS tasks (sequence INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT "
      "NULL, "
      "status TEXT NOT NULL, request TEXT NOT NULL, result TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', "
      "error_type TEXT NOT NULL DEFAULT '', created REAL NOT NULL, started REAL NOT NULL DEFAULT 0, "
      "ended REAL NOT NULL DEFAULT 0, progress TEXT NOT NULL DEFAULT '')");
}

TaskStore::~TaskStore() {
  sqlite3_close(db_);
}

void TaskStore::execute(const std::string& sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    throw Error(kPlace, concat("task database: ", text, " in ", sql));
  }
}

std::vector<TaskRecord> TaskStore::query(const std::string& where,
                                         const std::vector<std::string>& parameters) const {
  Statement statement(db_, concat("SELECT ", kColumns, " FROM tasks ", where));
  for (size_t i = 0; i < parameters.size(); ++i) statement.bind(static_cast<int>(i + 1), parameters[i]);
  std::vector<TaskRecord> tasks;
  while (statement.step()) tasks.push_back(read_record(statement));
  return tasks;
}

std::vector<std::string> TaskStore::requeue_interrupted() {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> ids;
  for (const TaskRecord& task : query("WHERE status = ?1", {kProcessing})) ids.push_back(task.id);
  Statement(db_, "UPDATE tasks SET status = ?1, started = 0, progress = '' WHERE status = ?2")
      .bind(1, std::string(kPending))
      .bind(2, std::string(kProcessing))
      .step();
  return ids;
}

void TaskStore::add(const TaskRecord& task, int max_active) {
  const std::lock_guard<std::mutex> lock(mutex_);
  execute("BEGIN IMMEDIATE");
  try {
    Statement active(db_, "SELECT COUNT(*) FROM tasks WHERE status IN ('pending', 'processing')");
    active.step();
    if (active.number(0) >= max_active)
      throw QueueFull(concat("Task queue is full (max ", max_active, " tasks)"));
    Statement existing(db_, "SELECT COUNT(*) FROM tasks WHERE id = ?1");
    existing.bind(1, task.id).step();
    if (existing.number(0) > 0) throw std::invalid_argument(concat("Task ", task.id, " already exists"));
    Statement(db_, "INSERT INTO tasks (id, status, request, result, created) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(1, task.id)
        .bind(2, task.status)
        .bind(3, task.request.dump())
        .bind(4, task.result)
        .bind(5, task.created)
        .step();
    execute("COMMIT");
  } catch (...) {
    execute("ROLLBACK");
    throw;
  }
}

std::optional<TaskRecord> TaskStore::claim_next() {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TaskRecord> next = query("WHERE status = ?1 ORDER BY sequence LIMIT 1", {kPending});
  if (next.empty()) return std::nullopt;
  TaskRecord task = next.front();
  task.status = kProcessing;
  task.started = now_seconds();
  Statement(db_, "UPDATE tasks SET status = ?1, started = ?2 WHERE id = ?3 AND status = ?4")
      .bind(1, task.status)
      .bind(2, task.started)
      .bind(3, task.id)
      .bind(4, std::string(kPending))
      .step();
  return task;
}

std::optional<TaskRecord> TaskStore::get(const std::string& id) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TaskRecord> found = query("WHERE id = ?1", {id});
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::vector<TaskRecord> TaskStore::list() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return query("ORDER BY sequence", {});
}

void TaskStore::set_progress(const std::string& id, const nlohmann::json& progress) {
  const std::lock_guard<std::mutex> lock(mutex_);
  Statement(db_, "UPDATE tasks SET progress = ?1 WHERE id = ?2").bind(1, progress.dump()).bind(2, id).step();
}

bool TaskStore::finish(const std::string& id, const std::string& status, const std::string& error,
                       const std::string& error_type) {
  const std::lock_guard<std::mutex> lock(mutex_);
  Statement(
      db_,
      "UPDATE tasks SET status = ?1, error = ?2, error_type = ?3, ended = ?4 WHERE id = ?5 AND status = ?6")
      .bind(1, status)
      .bind(2, error)
      .bind(3, error_type)
      .bind(4, now_seconds())
      .bind(5, id)
      .bind(6, std::string(kProcessing))
      .step();
  return sqlite3_changes(db_) > 0;
}

std::optional<std::string> TaskStore::cancel(const std::string& id) {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TaskRecord> found = query("WHERE id = ?1", {id});
  if (found.empty()) return std::nullopt;
  const std::string previous = found.front().status;
  if (previous == kPending || previous == kProcessing)
    Statement(db_, "UPDATE tasks SET status = ?1, ended = ?2 WHERE id = ?3")
        .bind(1, std::string(kCancelled))
        .bind(2, now_seconds())
        .bind(3, id)
        .step();
  return previous;
}

void TaskStore::prune(int limit) {
  const std::lock_guard<std::mutex> lock(mutex_);
  Statement(db_,
            "DELETE FROM tasks WHERE status IN ('completed', 'failed', 'cancelled') AND sequence NOT IN "
            "(SELECT sequence FROM tasks ORDER BY sequence DESC LIMIT ?1)")
      .bind_integer(1, limit)
      .step();
}

int TaskStore::count(const std::string& status) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  Statement statement(db_, "SELECT COUNT(*) FROM tasks WHERE status = ?1");
  statement.bind(1, status).step();
  return static_cast<int>(statement.number(0));
}

}  // namespace x2v::server
