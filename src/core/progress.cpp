#include "core/progress.h"

#include <cstdio>

#include "core/log.h"

namespace x2v {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Progress::Progress(std::string stage, int total)
    : stage_(std::move(stage)), total_(total), start_(std::chrono::steady_clock::now()) {}

double Progress::elapsed_seconds() const {
  return seconds_since(start_);
}

void Progress::update(int done) {
  if (log_level() > LogLevel::info) return;
  const double elapsed = elapsed_seconds();
  const double eta = done > 0 ? elapsed / done * (total_ - done) : 0.0;
  std::fprintf(stderr, "[%s] step %d/%d  elapsed %.1f s  eta %.1f s\n", stage_.c_str(), done, total_, elapsed,
               eta);
}

}  // namespace x2v
