#pragma once
// Models kept loaded between the requests of one process (x2v serve keeps them warm): one model per slot
// ("text encoder", "dit", "vae"), reused while a request needs it loaded the same way (its key) and replaced,
// the old one freed first, when a request needs it otherwise (another LoRA, another quantization).
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace x2v {

class ModelCache {
 public:
  template <class Model>
  std::shared_ptr<Model> get(const std::string& slot, const std::string& key,
                             const std::function<std::unique_ptr<Model>()>& load) {
    const std::lock_guard<std::mutex> lock(mutex_);
    Entry& entry = slots_[slot];
    if (entry.model && entry.key == key) return std::static_pointer_cast<Model>(entry.model);
    entry = Entry{};
    std::shared_ptr<Model> model(load());
    ++loads_;
    entry = Entry{key, model};
    return model;
  }
  // Models loaded so far (the server's tests see that a second request loads none).
  size_t loads() const { return loads_; }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<void> model;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> slots_;
  size_t loads_ = 0;
};

}  // namespace x2v
