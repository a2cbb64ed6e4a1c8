#include "core/progress.h"

#include <cstdio>

#include "core/log.h"

namespace x2v {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

namespace {
thread_local ProgressObserver thread_observer;
}  // namespace

ProgressObserver set_thread_progress_observer(ProgressObserver observer) {
  ProgressObserver previous = std::move(thread_observer);
  thread_observer = std::move(observer);
  return previous;
}

Progress::Progress(std::string stage, int total)
    : stage_(std::move(stage)), total_(total), start_(std::chrono::steady_clock::now()) {
  if (thread_observer) thread_observer(ProgressEvent{stage_, 0, total_, 0.0, 0.0});
}

double Progress::elapsed_seconds() const {
  return seconds_since(start_);
}

void Progress::update(int done) {
  const double elapsed = elapsed_seconds();
  const double eta = done > 0 ? elapsed / done * (total_ - done) : 0.0;
  if (thread_observer) thread_observer(ProgressEvent{stage_, done, total_, elapsed, eta});
  if (log_level() > LogLevel::info) return;
  std::fprintf(stderr, "[%s] step %d/%d  elapsed %.1f s  eta %.1f s\n", stage_.c_str(), done, total_, elapsed,
               eta);
}

}  // namespace x2v
