#include "io/interrupt_cleanup.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <thread>
#include <vector>

namespace x2v::io {
namespace {

// Recursive so that a CleanupHold's thread can still register what it moves aside.
struct Registry {
  std::recursive_mutex mutex;
  std::vector<std::string> paths;
};

// Never destroyed: the signal thread may still need it while static destructors run at exit.
Registry& registry() {
  static Registry* instance = new Registry;
  return *instance;
}

void remove_path(const std::string& path) {
  // The thread writing into a folder is not stopped by the signal and may add a file while the folder
  // is being emptied; a few passes catch what appeared during the previous one.
  for (int pass = 0; pass < 5; ++pass) {
    std::error_code error;
    std::filesystem::remove_all(path, error);
    if (!error) return;
  }
}

// Newest first: a file registered inside a registered folder goes before the folder.
void remove_all_registered(Registry& entries) {
  for (auto path = entries.paths.rbegin(); path != entries.paths.rend(); ++path) remove_path(*path);
  entries.paths.clear();
}

[[noreturn]] void clean_up_on_signal(sigset_t signals) {
  int number = 0;
  while (sigwait(&signals, &number) != 0) {
  }
  Registry& entries = registry();
  entries.mutex.lock();  // kept until the process is gone: nothing registers behind the cleanup
  remove_all_registered(entries);
  // Die by the signal with its default action, as without this thread (exit status 128 + number).
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(number, &action, nullptr);
  sigset_t just_this;
  sigemptyset(&just_this);
  sigaddset(&just_this, number);
  pthread_sigmask(SIG_UNBLOCK, &just_this, nullptr);
  raise(number);
  _exit(128 + number);  // not reached: the default action of SIGINT and SIGTERM ends the process
}

}  // namespace

void install_interrupt_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    sigset_t signals;
    sigemptyset(&signals);
    bool any = false;
    for (const int number : {SIGINT, SIGTERM}) {
      struct sigaction current {};
      // A script's background job starts with SIGINT ignored; blocking it would not change that.
      if (sigaction(number, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
          current.sa_handler == SIG_IGN)
        continue;
      sigaddset(&signals, number);
      any = true;
    }
    if (!any) return;
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    try {
      std::thread(clean_up_on_signal, signals).detach();
    } catch (const std::system_error&) {
      // No thread, no cleanup: the signals keep their plain effect rather than being lost.
      pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    }
  });
}

void register_temporary(const std::string& path) {
  Registry& entries = registry();
  const std::lock_guard<std::recursive_mutex> lock(entries.mutex);
  entries.paths.push_back(path);
}

void unregister_temporary(const std::string& path) {
  Registry& entries = registry();
  const std::lock_guard<std::recursive_mutex> lock(entries.mutex);
  const auto found = std::find(entries.paths.rbegin(), entries.paths.rend(), path);
  if (found != entries.paths.rend()) entries.paths.erase(std::next(found).base());
}

void remove_registered_temporaries() {
  Registry& entries = registry();
  const std::lock_guard<std::recursive_mutex> lock(entries.mutex);
  remove_all_registered(entries);
}

CleanupHold::CleanupHold() : lock_(registry().mutex) {}

}  // namespace x2v::io
