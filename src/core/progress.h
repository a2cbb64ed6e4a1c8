#pragma once
// Progress of long work on stderr: "[sample] step 3/50  elapsed 12.3 s  eta 190.1 s".
#include <chrono>
#include <functional>
#include <string>

namespace x2v {

// One progress report: `done` of `total` steps of `stage` (0 when the stage starts).
struct ProgressEvent {
  std::string stage;
  int done = 0, total = 0;
  double elapsed_seconds = 0, eta_seconds = 0;
};
// Sees every report of every Progress on the calling thread (a server's worker records them for its task's
// status). It may throw to stop the work right there: a cancelled task stops at its next step or chunk.
using ProgressObserver = std::function<void(const ProgressEvent&)>;
// Installs `observer` for this thread (an empty one removes it) and returns the previous one.
ProgressObserver set_thread_progress_observer(ProgressObserver observer);

class Progress {
 public:
  Progress(std::string stage, int total);
  // Reports that `done` of the total steps are complete.
  void update(int done);
  double elapsed_seconds() const;

 private:
  std::string stage_;
  int total_;
  std::chrono::steady_clock::time_point start_;
};

// Seconds since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace x2v
