#pragma once
// Ctrl-C and `kill` leave nothing half-written: files and folders that exist only while an output is being
// written register here, and on SIGINT or SIGTERM a dedicated thread removes them, then lets the process
// die by that signal as it would have (the shell still sees 130 or 143).
#include <mutex>
#include <string>

namespace x2v::io {

// Blocks SIGINT and SIGTERM in the calling thread and starts the thread that waits for them. Call it first
// thing in main, before any other thread exists: threads inherit the mask, so no other thread is stopped
// half-way by the signal. A signal ignored at startup (a background job of a script) stays ignored.
// Calling it again does nothing.
void install_interrupt_cleanup();

// A file or folder (removed with its contents) that must not outlive an interrupted run. Registering
// waits while a cleanup runs, so nothing is created behind it.
void register_temporary(const std::string& path);
void unregister_temporary(const std::string& path);

// Removes every registered path and forgets them: what the signal thread does before the process dies,
// and what a server can call to cancel a request's outputs.
void remove_registered_temporaries();

// Holds the cleanup off while alive, for a few steps that must not be cut in half (an earlier result
// moved aside and the new one not yet in its place). The holding thread may still register and
// unregister; a signal arriving meanwhile is handled when the hold ends.
class CleanupHold {
 public:
  CleanupHold();
  CleanupHold(const CleanupHold&) = delete;
  CleanupHold& operator=(const CleanupHold&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> lock_;
};

}  // namespace x2v::io
