#pragma once
// Errors carry the place they come from ("safetensors", "allocator", "config", ...) so that a user
// reading one line on stderr knows what was wrong and where to look.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace x2v {

// Builds a message from any streamable pieces: concat("shape ", 3, " expected ", 4).
template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream stream;
  (stream << ... << std::forward<Parts>(parts));
  return stream.str();
}

// A problem with the user's input: a file, a config value, a shape. The CLI exits with status 2.
class Error : public std::runtime_error {
 public:
  Error(const std::string& place, const std::string& message)
      : std::runtime_error("[" + place + "] " + message), place_(place) {}
  const std::string& place() const { return place_; }

 private:
  std::string place_;
};

// A broken invariant inside x2v: a bug to report. The CLI exits with status 1.
class InternalError : public std::logic_error {
 public:
  InternalError(const std::string& place, const std::string& message)
      : std::logic_error("[" + place + "] internal error: " + message), place_(place) {}
  const std::string& place() const { return place_; }

 private:
  std::string place_;
};

}  // namespace x2v

// Checks an invariant that only a bug in x2v can break.
#define X2V_ASSERT(condition, place, ...)                                                                    \
  do {                                                                                                       \
    if (!(condition)) throw ::x2v::InternalError(place, ::x2v::concat(#condition " failed: ", __VA_ARGS__)); \
  } while (0)
