#include "platform/host_streams.h"

namespace x2v {

HostEvent::HostEvent() : state_(std::make_shared<State>()) {}

void HostEvent::record(Stream& stream) {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    generation = ++state_->recorded;
  }
  std::shared_ptr<State> state = state_;
  stream.enqueue([state, generation] {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (state->completed < generation) state->completed = generation;
    state->done.notify_all();
  });
}

void HostEvent::synchronize() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  const uint64_t target = state_->recorded;
  state_->done.wait(lock, [&] { return state_->completed >= target; });
}

bool HostEvent::query() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->completed >= state_->recorded;
}

WorkerStream::WorkerStream() : worker_([this] { run(); }) {}

WorkerStream::~WorkerStream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void WorkerStream::enqueue(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(work));
  }
  changed_.notify_all();
}

void WorkerStream::synchronize() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return queue_.empty() && !busy_; });
  if (error_) {
    std::exception_ptr error = error_;
    error_ = nullptr;
    std::rethrow_exception(error);
  }
}

void WorkerStream::wait(Event& event) {
  // The event may belong to another stream; blocking this worker keeps later work ordered after it.
  enqueue([&event] { event.synchronize(); });
}

void WorkerStream::run() {
  while (true) {
    std::function<void()> work;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping with nothing left
      work = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    try {
      work();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_ = false;
    }
    changed_.notify_all();
  }
}

}  // namespace x2v
