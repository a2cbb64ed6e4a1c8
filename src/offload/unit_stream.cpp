#include "offload/unit_stream.h"

#include <chrono>

#include "core/error.h"
#include "core/text.h"

namespace x2v {

UnitStream::UnitStream(std::shared_ptr<const UnitSource> source, Device& device, bool background_reads)
    : source_(std::move(source)),
      device_(&device),
      host_memory_(device.host_accessible()),
      background_reads_(background_reads) {
  if (source_->unit_count() == 0) throw InternalError("offload", "a model without units to stream");
  if (!host_memory_) {
    copy_stream_ = device.create_stream();
    computed_ = device.create_event();
  }
}

UnitStream::~UnitStream() {
  // A read still running uses the source: wait for it (its result or error no longer matters).
  if (pending_ && pending_->loaded.valid()) pending_->loaded.wait();
}

std::unique_ptr<UnitStream::Loaded> UnitStream::read(size_t index) const {
  auto loaded = std::make_unique<Loaded>();
  loaded->index = index;
  loaded->host = source_->read(index);
  if (host_memory_) {
    // Host memory is the device's memory: no copy, and building (packing weights) is host work too.
    loaded->bytes = loaded->host.bytes();
    loaded->unit = source_->build(index, loaded->host);
    // Kernels keep what they need (a packed copy, or the tensor itself); the rest is freed now.
    loaded->host = WeightSet();
  }
  return loaded;
}

void UnitStream::start_reading(size_t index) {
  Pending pending;
  pending.index = index;
  if (background_reads_) {
    pending.loaded = std::async(std::launch::async, [this, index] { return read(index); });
  } else {
    std::promise<std::unique_ptr<Loaded>> promise;
    try {
      promise.set_value(read(index));
    } catch (...) {
      promise.set_exception(std::current_exception());
    }
    pending.loaded = promise.get_future();
  }
  pending_ = std::move(pending);
}

std::unique_ptr<UnitStream::Loaded> UnitStream::finish(Pending& pending) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Loaded> loaded = pending.loaded.get();
  waited_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  upload(*loaded);
  return loaded;
}

void UnitStream::upload(Loaded& loaded) {
  if (host_memory_ || loaded.copied) return;
  loaded.on_device = loaded.host.copied_to(*device_, *copy_stream_);
  loaded.bytes = loaded.on_device.bytes();
  loaded.copied = device_->create_event();
  loaded.copied->record(*copy_stream_);
}

void UnitStream::release_current() {
  if (!current_) return;
  if (!host_memory_) {
    // The next copy may land in this unit's memory: it waits until the compute that read it is done.
    computed_->record(device_->compute_stream());
    copy_stream_->wait(*computed_);
  }
  current_.reset();
}

const OffloadUnit& UnitStream::take(size_t index) {
  if (index >= source_->unit_count())
    throw InternalError("offload", concat("unit ", index, " of ", source_->unit_count()));
  release_current();
  std::unique_ptr<Loaded> loaded;
  if (next_ && next_->index == index) {
    loaded = std::move(next_);
  } else {
    next_.reset();
    if (!pending_ || pending_->index != index) {
      // Out of order (a new pass, or the first take): whatever was read ahead is not needed.
      if (pending_ && pending_->loaded.valid()) pending_->loaded.wait();
      start_reading(index);
    }
    Pending taking = std::move(*pending_);
    pending_.reset();
    loaded = finish(taking);
  }
  // Read the next unit while this one builds and computes.
  start_reading((index + 1) % source_->unit_count());
  if (!host_memory_) {
    device_->compute_stream().wait(*loaded->copied);
    loaded->unit = source_->build(index, loaded->on_device);
    // Its copy goes out now when it is already read, so it overlaps this unit's compute.
    if (pending_->loaded.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      next_ = finish(*pending_);
      pending_.reset();
    }
  }
  // While this unit computes the next one is read (and copied): the two hold weights together.
  peak_weight_bytes_ = std::max(peak_weight_bytes_, loaded->bytes + previous_bytes_);
  previous_bytes_ = loaded->bytes;
  current_ = std::move(loaded);
  return *current_->unit;
}

}  // namespace x2v
