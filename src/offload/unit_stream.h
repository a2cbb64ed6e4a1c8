#pragma once
// Streams a model's units (blocks, or phases of blocks) through the device ahead of use, written once for
// every platform:
//   - a background thread reads unit i+1's weights on the host (from disk with lazy_load, or from the host
//     copy with cpu_offload) while unit i computes;
//   - on a device with memory of its own, the compute thread copies them on a copy stream into device
//     memory as soon as they are read; the compute stream waits for that copy's event, and the copy stream
//     waits for the event of the compute that last used the memory it reuses;
//   - at most two units hold weights at a time: the one computing and the next one.
// On a device computing in host memory (the cpu) the background thread also builds the unit (packs its
// kernels' weights), so nothing but compute is left on the compute thread.
#include <cstddef>
#include <future>
#include <memory>
#include <optional>

#include "offload/weight_set.h"

namespace x2v {

// A unit built and ready to run: the model's own type (a block, a phase) derives from it.
class OffloadUnit {
 public:
  virtual ~OffloadUnit() = default;
};

class UnitSource {
 public:
  virtual ~UnitSource() = default;
  virtual size_t unit_count() const = 0;
  // Unit `index`'s weights as host tensors, in the dtypes and layouts its kernels take. Called on a
  // background thread, possibly while build() runs for another unit.
  virtual WeightSet read(size_t index) const = 0;
  // The unit from its weights on the device (tensors of `weights` may still be arriving on the copy
  // stream: build must not read them). Kernels may keep references to the weights.
  virtual std::unique_ptr<OffloadUnit> build(size_t index, const WeightSet& weights) const = 0;
};

class UnitStream {
 public:
  // `background_reads`: read() is slow (from disk) and runs on a background thread; otherwise it runs on
  // the compute thread (the host copy is already in memory) so its copy can start at once.
  UnitStream(std::shared_ptr<const UnitSource> source, Device& device, bool background_reads);
  ~UnitStream();
  UnitStream(const UnitStream&) = delete;
  UnitStream& operator=(const UnitStream&) = delete;

  // Unit `index`, ready: the compute stream is ordered after its weights' copy. Releases the unit taken
  // before (its memory is reused once the compute stream has passed it) and starts reading the next one
  // (index + 1, wrapping to 0). Errors from reading (a missing or misshaped tensor) are rethrown here.
  const OffloadUnit& take(size_t index);

  // The most weight bytes two consecutive units held (as read, before a kernel packed them).
  size_t peak_weight_bytes() const { return peak_weight_bytes_; }
  // Seconds the compute thread waited for units still being read (0 when reading kept ahead).
  double waited_seconds() const { return waited_seconds_; }

 private:
  struct Loaded {
    size_t index = 0;
    WeightSet host;                 // on a device: kept until the unit is released (the copy reads it)
    WeightSet on_device;            // on a device: copied_to(device)
    std::unique_ptr<Event> copied;  // recorded on the copy stream after the copies
    std::unique_ptr<OffloadUnit> unit;
    size_t bytes = 0;  // of the unit's weights where it computes
  };
  struct Pending {
    size_t index = 0;
    std::future<std::unique_ptr<Loaded>> loaded;
  };

  std::unique_ptr<Loaded> read(size_t index) const;
  void start_reading(size_t index);
  std::unique_ptr<Loaded> finish(Pending& pending);
  void upload(Loaded& loaded);
  void release_current();

  std::shared_ptr<const UnitSource> source_;
  Device* device_;
  bool host_memory_;
  bool background_reads_;
  std::unique_ptr<Stream> copy_stream_;
  std::unique_ptr<Event> computed_;  // recorded on the compute stream when a unit is released
  std::unique_ptr<Loaded> current_;
  std::unique_ptr<Loaded> next_;  // read and (on a device) uploaded, not yet taken
  std::optional<Pending> pending_;
  size_t peak_weight_bytes_ = 0;
  size_t previous_bytes_ = 0;
  double waited_seconds_ = 0;
};

}  // namespace x2v
