#include "offload/weight_set.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"
#include "core/text.h"
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

WeightSet WeightSet::copied_to(Device& device) const {
  WeightSet copy = copied_to(device, device.compute_stream());
  device.compute_stream().synchronize();
  return copy;
}

void WeightSet::read_pages(int workers) const {
  // 1 MiB pieces: a big tensor's pages spread over every worker.
  constexpr size_t kPiece = size_t{1} << 20;
  struct Piece {
    const volatile uint8_t* begin;
    size_t bytes;
  };
  std::vector<Piece> pieces;
  for (const Entry& entry : entries_) {
    const Tensor& tensor = entry.tensor;
    if (!tensor.defined() || !tensor.is_host_accessible() || tensor.nbytes() == 0) continue;
    const auto* data = static_cast<const volatile uint8_t*>(tensor.raw_data());
    // Asks the kernel to read the whole range ahead in large requests; the workers then map it page by page.
    static const uintptr_t page_mask = ~(static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE)) - 1);
    const uintptr_t begin = reinterpret_cast<uintptr_t>(tensor.raw_data()) & page_mask;
    ::madvise(reinterpret_cast<void*>(begin),
              reinterpret_cast<uintptr_t>(tensor.raw_data()) + tensor.nbytes() - begin, MADV_WILLNEED);
    for (size_t offset = 0; offset < tensor.nbytes(); offset += kPiece)
      pieces.push_back({data + offset, std::min(kPiece, tensor.nbytes() - offset)});
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    uint8_t sink = 0;
    for (size_t taken = next++; taken < pieces.size(); taken = next++)
      for (size_t offset = 0; offset < pieces[taken].bytes; offset += page)
        sink ^= pieces[taken].begin[offset];
    (void)sink;
  };
  const int threads = std::max(1, std::min<int>(workers, static_cast<int>(pieces.size())));
  std::vector<std::thread> helpers;
  for (int i = 1; i < threads; ++i) helpers.emplace_back(work);
  work();
  for (std::thread& helper : helpers) helper.join();
}

void WeightSet::on_release(std::function<void()> release) {
  if (!releaser_) releaser_ = std::make_shared<Releaser>();
  releaser_->callbacks.push_back(std::move(release));
}

WeightSet::Releaser::~Releaser() {
  for (const auto& callback : callbacks) callback();
}

}  // namespace x2v
