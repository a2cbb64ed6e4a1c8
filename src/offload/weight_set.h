#pragma once
// The named weights of one offload unit (a DiT block, one phase of it): read on the host, then copied to
// the device as one set on a copy stream. Holding the set holds the memory; dropping it frees it.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "platform/device.h"

namespace x2v {

class WeightSet {
 public:
  struct Entry {
    std::string name;
    Tensor tensor;
    bool stays_on_host = false;  // host-side data of the unit (a lookup table): never copied to a device
  };

  void add(const std::string& name, const Tensor& tensor);
  void add_host_only(const std::string& name, const Tensor& tensor);
  bool contains(const std::string& name) const;
  // The tensor `name`; InternalError when the set has none (a model asked for a weight it did not read).
  const Tensor& get(const std::string& name) const;
  const std::vector<Entry>& entries() const { return entries_; }
  size_t bytes() const;

  // Copies on `device` of every tensor, enqueued on `stream`: complete once the stream passes them. The
  // host tensors must stay alive until then (the caller orders that with an event).
  WeightSet copied_to(Device& device, Stream& stream) const;
  // The same on the device's compute stream, complete when it returns (a resident load).
  WeightSet copied_to(Device& device) const;
  // Reads every page of the host tensors with `workers` threads: tensors borrowed from a mapped file come
  // in from disk now (lazy loading's disk workers), not when a kernel first touches them.
  void read_pages(int workers) const;

  // Called once the set (and every copy of its tensors a kernel kept) is no longer in use: lazy loading
  // gives the pages of the tensors' file ranges back to the system there.
  void on_release(std::function<void()> release);

 private:
  std::vector<Entry> entries_;
  // Runs the release callbacks when the last copy of the set goes away.
  struct Releaser {
    std::vector<std::function<void()>> callbacks;
    ~Releaser();
  };
  std::shared_ptr<Releaser> releaser_;
};

}  // namespace x2v
