#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>

#include "core/text.h"

namespace x2v {
namespace {

LogLevel level_from_environment() {
  const char* value = std::getenv("X2V_LOG_LEVEL");
  if (value == nullptr) return LogLevel::info;
  const std::string text = value;
  if (text == "debug") return LogLevel::debug;
  if (text == "info" || text.empty()) return LogLevel::info;
  if (text == "warn" || text == "warning") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  if (text == "off" || text == "none") return LogLevel::off;
  std::fprintf(stderr, "[log] X2V_LOG_LEVEL='%s' is not one of debug, info, warn, error, off; using info\n",
               value);
  return LogLevel::info;
}

std::atomic<int>& level_storage() {
  static std::atomic<int> level{static_cast<int>(level_from_environment())};
  return level;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
    default:
      return "";
  }
}

}  // namespace

LogLevel log_level() {
  return static_cast<LogLevel>(level_storage().load());
}
void set_log_level(LogLevel level) {
  level_storage().store(static_cast<int>(level));
}

void log_message(LogLevel level, const std::string& place, const std::string& message) {
  if (level < log_level() || level == LogLevel::off) return;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  // Messages carry names read from files (tensor names, paths, keys): escaped so they cannot drive the
  // terminal.
  std::fprintf(stderr, "x2v %s [%s] %s\n", level_name(level), place.c_str(), printable(message).c_str());
}

void log_once(LogLevel level, const std::string& place, const std::string& message) {
  static std::mutex mutex;
  static std::set<std::string> seen;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!seen.insert(place + "\n" + message).second) return;
  }
  log_message(level, place, message);
}

}  // namespace x2v
