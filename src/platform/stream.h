#pragma once
// Streams and events: the ordering primitives offload and prefetch code is written against. A stream
// runs work in submission order; an event marks a point in a stream that other streams or the host can
// wait for. On cpu a stream is either inline (runs work on the calling thread) or a worker queue.
#include <functional>
#include <memory>

namespace x2v {

class Event;

class Stream {
 public:
  virtual ~Stream() = default;
  // Runs `work` after everything submitted before it.
  virtual void enqueue(std::function<void()> work) = 0;
  // Blocks until everything submitted so far has run. Rethrows the first error raised by queued work.
  virtual void synchronize() = 0;
  // Makes work submitted to this stream after this call wait until `event` has completed.
  virtual void wait(Event& event) = 0;
};

class Event {
 public:
  virtual ~Event() = default;
  // Marks the current end of `stream`.
  virtual void record(Stream& stream) = 0;
  // Blocks the host until the recorded point is reached (returns at once if never recorded).
  virtual void synchronize() = 0;
  // True once the recorded point is reached.
  virtual bool query() = 0;
};

}  // namespace x2v
