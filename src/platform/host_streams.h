#pragma once
// Host-side streams for any device whose operations return when done (cpu, vulkan): an inline stream runs
// work on the calling thread, a worker stream on its own thread, so work there overlaps the caller.
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "platform/stream.h"

namespace x2v {

class HostEvent : public Event {
 public:
  HostEvent();
  void record(Stream& stream) override;
  void synchronize() override;
  bool query() override;

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable done;
    uint64_t recorded = 0;   // generation last recorded
    uint64_t completed = 0;  // generation last reached
  };
  std::shared_ptr<State> state_;
};

class InlineStream : public Stream {
 public:
  void enqueue(std::function<void()> work) override { work(); }
  void synchronize() override {}
  void wait(Event& event) override { event.synchronize(); }
};

class WorkerStream : public Stream {
 public:
  WorkerStream();
  ~WorkerStream() override;
  void enqueue(std::function<void()> work) override;
  void synchronize() override;
  void wait(Event& event) override;

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace x2v
