#include "offload/weight_set.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/text.h"
#include "platform/ops.h"
#include "platform/platform.h"

namespace x2v {

void WeightSet::add(const std::string& name, const Tensor& tensor) {
  if (contains(name)) throw InternalError("weight set", concat("'", name, "' added twice"));
  entries_.push_back({name, tensor, false});
}

void WeightSet::add_host_only(const std::string& name, const Tensor& tensor) {
  add(name, tensor);
  entries_.back().stays_on_host = true;
}

bool WeightSet::contains(const std::string& name) const {
  for (const Entry& entry : entries_)
    if (entry.name == name) return true;
  return false;
}

const Tensor& WeightSet::get(const std::string& name) const {
  for (const Entry& entry : entries_)
    if (entry.name == name) return entry.tensor;
  throw InternalError("weight set", concat("no weight '", name, "' was read for this unit"));
}

size_t WeightSet::bytes() const {
  size_t total = 0;
  for (const Entry& entry : entries_) total += entry.tensor.defined() ? entry.tensor.nbytes() : 0;
  return total;
}

WeightSet WeightSet::copied_to(Device& device, Stream& stream) const {
  WeightSet result;
  result.releaser_ = releaser_;
  for (const auto& [name, tensor, stays_on_host] : entries_) {
    const bool in_place =
        tensor.device() == &device || (device.host_accessible() && tensor.is_host_accessible());
    if (!tensor.defined() || in_place || stays_on_host) {
      result.entries_.push_back({name, tensor, stays_on_host});
      continue;
    }
    if (!tensor.is_host_accessible() || !tensor.is_contiguous())
      throw InternalError("weight set", concat("'", name, "' is ", tensor.describe(),
                                               "; offload copies contiguous host tensors"));
    Tensor copy = empty(tensor.shape(), tensor.dtype(), device);
    device.copy_async(tensor.raw_data(), copy.raw_data(), tensor.nbytes(), CopyKind::host_to_device, stream);
    result.entries_.push_back({name, copy, false});
  }
  return result;
}

WeightSet WeightSet::owned_copy(int workers) const {
  WeightSet result;
  result.releaser_ = releaser_;
  result.entries_.resize(entries_.size());
  std::vector<size_t> order(entries_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return entries_[a].tensor.nbytes() > entries_[b].tensor.nbytes(); });
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&] {
    for (size_t taken = next++; taken < order.size(); taken = next++) {
      const auto& [name, tensor, stays_on_host] = entries_[order[taken]];
      try {
        if (!tensor.defined() || !tensor.is_host_accessible())
          throw InternalError("weight set", concat("'", name, "' is not a host tensor"));
        Tensor copy = empty(tensor.shape(), tensor.dtype(), host_device());
        if (tensor.is_contiguous())
          std::memcpy(copy.raw_data(), tensor.raw_data(), tensor.nbytes());
        else
          ops::copy(tensor, copy);
        result.entries_[order[taken]] = {name, copy, stays_on_host};
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  const int threads = std::max(1, std::min<int>(workers, static_cast<int>(order.size())));
  std::vector<std::thread> helpers;
  for (int i = 1; i < threads; ++i) helpers.emplace_back(work);
  work();
  for (std::thread& helper : helpers) helper.join();
  if (failure) std::rethrow_exception(failure);
  return result;
}

void WeightSet::on_release(std::function<void()> release) {
  if (!releaser_) releaser_ = std::make_shared<Releaser>();
  releaser_->callbacks.push_back(std::move(release));
}

WeightSet::Releaser::~Releaser() {
  for (const auto& callback : callbacks) callback();
}

}  // namespace x2v
