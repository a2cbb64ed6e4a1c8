#pragma once
// cpu streams: the compute stream runs work inline; other streams are one worker thread each.
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "platform/stream.h"

namespace x2v {

class CpuEvent : public Event {
 public:
  CpuEvent();
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
