#pragma once
// Progress of long work on stderr: "[sample] step 3/50  elapsed 12.3 s  eta 190.1 s".
#include <chrono>
#include <string>

namespace x2v {

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
