#pragma once
// Levelled logging to stderr. X2V_LOG_LEVEL = debug | info | warn | error | off (default info).
#include <string>

#include "core/error.h"

namespace x2v {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

LogLevel log_level();
void set_log_level(LogLevel level);
void log_message(LogLevel level, const std::string& place, const std::string& message);
// Logs a message only the first time this exact text is seen in the process.
void log_once(LogLevel level, const std::string& place, const std::string& message);

template <class... Parts>
void log_debug(const std::string& place, Parts&&... parts) {
  if (log_level() <= LogLevel::debug)
    log_message(LogLevel::debug, place, concat(std::forward<Parts>(parts)...));
}
template <class... Parts>
void log_info(const std::string& place, Parts&&... parts) {
  if (log_level() <= LogLevel::info)
    log_message(LogLevel::info, place, concat(std::forward<Parts>(parts)...));
}
template <class... Parts>
void log_warn(const std::string& place, Parts&&... parts) {
  if (log_level() <= LogLevel::warn)
    log_message(LogLevel::warn, place, concat(std::forward<Parts>(parts)...));
}

}  // namespace x2v
