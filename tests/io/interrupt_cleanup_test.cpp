// The temporaries registry: registered files and folders (with their contents) go on cleanup, others
// stay; AtomicFile registers its temporary; and in a forked child, SIGINT or SIGTERM removes them and
// the child still dies by that signal (a CleanupHold delays it, an ignored signal stays ignored).
#include "io/interrupt_cleanup.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "io/atomic_file.h"
#include "io_test_util.h"

namespace x2v::io {
namespace {

bool exists(const std::string& path) {
  std::error_code ignored;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ignored));
}

// A folder holding a file and a subfolder with a file.
void make_filled_folder(const std::string& path) {
  std::filesystem::create_directories(path + "/inner");
  testing::write_bytes(path + "/a.png", {1, 2, 3});
  testing::write_bytes(path + "/inner/b.png", {4});
}

TEST(InterruptCleanup, RemovesRegisteredFilesAndFolders) {
  testing::ScratchDir scratch;
  const std::string file = scratch.file(".out.mp4.tmp-1-0"), folder = scratch.file(".frames.tmp-1-0");
  const std::string kept = scratch.file("kept.txt"), forgotten = scratch.file("forgotten.txt");
  testing::write_bytes(file, {1});
  make_filled_folder(folder);
  testing::write_bytes(kept, {2});
  testing::write_bytes(forgotten, {3});
  register_temporary(file);
  register_temporary(folder);
  register_temporary(forgotten);
  unregister_temporary(forgotten);
  register_temporary(scratch.file("never-created"));  // a path already gone is no problem

  remove_registered_temporaries();
  EXPECT_FALSE(exists(file));
  EXPECT_FALSE(exists(folder));
  EXPECT_TRUE(exists(kept));
  EXPECT_TRUE(exists(forgotten)) << "unregistered paths stay";

  // The registry is empty afterwards: a new file at a removed path stays.
  testing::write_bytes(file, {1});
  remove_registered_temporaries();
  EXPECT_TRUE(exists(file));
}

TEST(InterruptCleanup, AtomicFileRegistersItsTemporaryUntilCommit) {
  testing::ScratchDir scratch;
  {
    AtomicFile file("test", scratch.file("result.bin"));
    file.write("abc", 3);
    ASSERT_EQ(scratch.listing().size(), 1u);
    remove_registered_temporaries();  // as an interrupt would
    EXPECT_TRUE(scratch.listing().empty());
  }
  {
    AtomicFile file("test", scratch.file("result.bin"));
    file.write("abc", 3);
    file.commit();
  }
  remove_registered_temporaries();
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"result.bin"}) << "a committed file is not temporary";
}

// Runs `child` in a forked process and returns its wait status.
template <class Child>
int run_forked(Child&& child) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    child();
    ::_exit(0);
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

// Sleeps up to 10 s waiting to be killed; exits 3 when not.
[[noreturn]] void wait_to_die() {
  for (int i = 0; i < 100; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::_exit(3);
}

TEST(InterruptCleanup, SignalRemovesTemporariesAndKillsBySignal) {
  for (const int number : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(number);
    testing::ScratchDir scratch;
    const std::string file = scratch.file(".out.mp4.tmp"), folder = scratch.file(".frames.tmp");
    const int status = run_forked([&] {
      install_interrupt_cleanup();
      install_interrupt_cleanup();  // again: nothing changes
      testing::write_bytes(file, {1});
      make_filled_folder(folder);
      register_temporary(file);
      register_temporary(folder);
      ::kill(::getpid(), number);
      wait_to_die();
    });
    ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    EXPECT_EQ(WTERMSIG(status), number);
    EXPECT_TRUE(scratch.listing().empty());
  }
}

TEST(InterruptCleanup, HoldDelaysTheCleanup) {
  testing::ScratchDir scratch;
  const std::string file = scratch.file(".out.mp4.tmp"), marker = scratch.file("ran-during-hold");
  const int status = run_forked([&] {
    install_interrupt_cleanup();
    testing::write_bytes(file, {1});
    register_temporary(file);
    {
      const CleanupHold hold;
      ::kill(::getpid(), SIGTERM);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      register_temporary(file + ".2");  // the holder still registers
      testing::write_bytes(marker, {1});
    }
    wait_to_die();
  });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"ran-during-hold"});
}

TEST(InterruptCleanup, SignalIgnoredAtStartStaysIgnored) {
  testing::ScratchDir scratch;
  const std::string file = scratch.file(".out.mp4.tmp");
  const int status = run_forked([&] {
    ::signal(SIGINT, SIG_IGN);  // as a script's background job starts
    install_interrupt_cleanup();
    testing::write_bytes(file, {1});
    register_temporary(file);
    ::kill(::getpid(), SIGINT);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::_exit(7);
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_TRUE(exists(file));
}

}  // namespace
}  // namespace x2v::io
