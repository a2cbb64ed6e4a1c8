#pragma once
// Host fallback: a device without a kernel of some name (a category a plugin did not implement, an
// elementwise op, a quantized format) runs the host's kernel of that name on host copies of its tensors.
// Inputs and weights are copied to the host through the device's copies, the host kernel runs, outputs are
// copied back. Correct for any device whose memory the host cannot read, and slow; the first use of each
// kernel logs one line naming it.
#include "platform/device.h"

namespace x2v {

// Adds to `device` every kernel of `host` whose name `device` lacks, as a fallback (traits.host_fallback),
// and makes the host's defaults the device's where the device has none.
void add_host_fallbacks(Device& device, Device& host);

// One fallback kernel: the host's kernel `name` of Kernel's category running on `device`'s tensors through
// copies. For a backend kernel that computes some cases natively and hands the rest over (a dtype its
// shader lacks). Kernel is one of the op templates (AttentionKernel, MatmulKernel, ...). `reason` names the
// calls handed over, for the one log line (empty: the device has no kernel of the category at all).
template <class Kernel>
std::unique_ptr<Kernel> make_host_fallback(Device& device, Device& host, const std::string& name,
                                           const std::string& reason = "");

// Host copies of device tensors for one kernel call. Tensors that share storage are copied as one range, so
// an output that aliases an input (in-place ops) stays consistent.
class HostMirror {
 public:
  explicit HostMirror(Device& device) : device_(device) {}
  // Registers a tensor; returns its index for host(). Written tensors are copied back by write_back(), each
  // its own bytes (for a strided view: the span from its first to its last element).
  size_t add(const Tensor& tensor, bool written);
  // Copies every registered range to the host (call once, after the adds).
  void materialize();
  // The host view of tensor `index` (undefined stays undefined).
  const Tensor& host(size_t index) const { return views_.at(index); }
  void write_back();

  // Shorthand: a host copy of one (read-only) tensor; host tensors are returned as they are.
  static Tensor to_host(const Tensor& tensor, Device& device);

 private:
  struct Region {
    Storage* storage = nullptr;
    size_t begin = 0, end = 0;  // bytes from storage->data
    Tensor buffer;              // u8 host copy of [begin, end)
  };
  Device& device_;
  std::vector<Tensor> tensors_;
  std::vector<bool> written_;
  std::vector<size_t> region_of_;
  std::vector<Region> regions_;
  std::vector<Tensor> views_;
};

}  // namespace x2v
