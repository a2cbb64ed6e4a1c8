#include "platform/communicator.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/error.h"
#include "core/text.h"
#include "x2v/comm_abi.h"

namespace x2v {
namespace {

constexpr const char* kPlace = "communicator";

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "local"; }
  void all_to_all(const void* send, void* receive, size_t bytes_per_rank) override {
    if (send != receive && bytes_per_rank > 0) std::memcpy(receive, send, bytes_per_rank);
  }
  void all_gather(const void* send, void* receive, const std::vector<size_t>& counts) override {
    if (counts.size() != 1) throw InternalError(kPlace, concat("all_gather over 1 rank got ", counts.size()));
    if (send != receive && counts[0] > 0) std::memcpy(receive, send, counts[0]);
  }
  void broadcast(void*, size_t, int root) override { check_peer(root); }
  void send(const void*, size_t, int peer, int) override { check_peer(peer); }
  void receive(void*, size_t, int peer, int) override { check_peer(peer); }
  void send_receive(const void* send, size_t send_bytes, int destination, void* receive, size_t receive_bytes,
                    int source, int) override {
    if (destination < 0 && source < 0) return;
    // A one-rank ring (a peer that is this rank) exchanges with itself.
    check_peer(destination);
    check_peer(source);
    if (send_bytes != receive_bytes)
      throw InternalError(kPlace, concat("self exchange of ", send_bytes, " and ", receive_bytes, " bytes"));
    if (send_bytes > 0) std::memmove(receive, send, send_bytes);
  }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
  std::unique_ptr<Communicator> split(int, int) override { return std::make_unique<LocalCommunicator>(); }

 private:
  static void check_peer(int peer) {
    if (peer != 0) throw InternalError(kPlace, concat("rank ", peer, " does not exist in a one-rank group"));
  }
};

// A group of the plugin's library.
class PluginCommunicator final : public Communicator {
 public:
  PluginCommunicator(const x2v_comm_api_v1* api, x2v_comm* comm) : api_(api), comm_(comm) {
    rank_ = api_->rank(comm_);
    size_ = api_->size(comm_);
  }
  ~PluginCommunicator() override { api_->free_comm(comm_); }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return api_->name; }

  void all_to_all(const void* send, void* receive, size_t bytes_per_rank) override {
    check(api_->all_to_all(comm_, send, receive, bytes_per_rank, error_, sizeof error_), "all-to-all");
    count_sent(bytes_per_rank * static_cast<size_t>(size_ - 1));
  }
  void all_gather(const void* send, void* receive, const std::vector<size_t>& counts) override {
    if (static_cast<int>(counts.size()) != size_)
      throw InternalError(kPlace, concat("all_gather over ", size_, " ranks got ", counts.size(), " counts"));
    std::vector<uint64_t> sizes(counts.begin(), counts.end());
    check(api_->all_gather(comm_, send, receive, sizes.data(), error_, sizeof error_), "all-gather");
    count_sent(counts[rank_] * static_cast<size_t>(size_ - 1));
  }
  void broadcast(void* data, size_t bytes, int root) override {
    check(api_->broadcast(comm_, data, bytes, root, error_, sizeof error_), "broadcast");
    if (root == rank_) count_sent(bytes * static_cast<size_t>(size_ - 1));
  }
  void send(const void* data, size_t bytes, int peer, int tag) override {
    check(api_->send(comm_, data, bytes, peer, tag, error_, sizeof error_), "send");
    count_sent(bytes);
  }
  void receive(void* data, size_t bytes, int peer, int tag) override {
    check(api_->receive(comm_, data, bytes, peer, tag, error_, sizeof error_), "receive");
  }
  void send_receive(const void* send, size_t send_bytes, int destination, void* receive, size_t receive_bytes,
                    int source, int tag) override {
    check(api_->send_receive(comm_, send, send_bytes, destination, receive, receive_bytes, source, tag,
                             error_, sizeof error_),
          "send-receive");
    if (destination >= 0) count_sent(send_bytes);
  }
  void barrier() override { check(api_->barrier(comm_, error_, sizeof error_), "barrier"); }
  [[noreturn]] void abort(int code) override {
    api_->abort_all(comm_, code);
    std::_Exit(code);  // abort_all does not return; this keeps [[noreturn]] honest if a library does
  }
  std::unique_ptr<Communicator> split(int color, int key) override {
    x2v_comm* group = api_->split(comm_, color, key, error_, sizeof error_);
    if (group == nullptr) throw Error(kPlace, concat(api_->name, " split failed: ", error_));
    return std::make_unique<PluginCommunicator>(api_, group);
  }

 private:
  void check(int status, const char* what) const {
    if (status != 0)
      throw Error(kPlace, concat(api_->name, " ", what, " failed on rank ", rank_, ": ", error_));
  }

  const x2v_comm_api_v1* api_;
  x2v_comm* comm_;
  int rank_ = 0, size_ = 1;
  mutable char error_[512] = {0};
};

int environment_int(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : 0;
}

std::string executable_directory() {
  std::error_code error;
  const std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string(".") : executable.parent_path().string();
}

const x2v_comm_api_v1* load_plugin_api() {
  const char* configured = std::getenv("X2V_COMM_PLUGIN");
  const std::string path = configured != nullptr && *configured != '\0'
                               ? std::string(configured)
                               : executable_directory() + "/libx2v_mpi.so";
  const int ranks = launched_world_size();
  if (!std::filesystem::exists(path))
    throw Error(kPlace, concat("x2v was started on ", ranks, " ranks but its MPI plugin ", path,
                               " is missing: build x2v where MPI is installed (apt install libopenmpi-dev; ",
                               "scripts/setup.sh does), or set X2V_COMM_PLUGIN to the plugin's path"));
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (library == nullptr) {
    const char* reason = dlerror();
    throw Error(kPlace, concat("cannot load the MPI plugin ", path, ": ", reason ? reason : "unknown error",
                               " (is the MPI runtime installed? apt install openmpi-bin)"));
  }
  const auto entry = reinterpret_cast<x2v_comm_api_fn>(dlsym(library, X2V_COMM_API_SYMBOL));
  if (entry == nullptr)
    throw Error(kPlace, concat(path, " does not export ", X2V_COMM_API_SYMBOL, "; it is not an x2v plugin"));
  const x2v_comm_api_v1* api = entry(X2V_COMM_ABI_VERSION);
  if (api == nullptr || api->abi_version != X2V_COMM_ABI_VERSION)
    throw Error(kPlace, concat(path, " does not implement communicator ABI version ", X2V_COMM_ABI_VERSION,
                               "; rebuild it with this x2v"));
  return api;  // the library stays loaded for the process's life
}

std::mutex world_mutex;
std::unique_ptr<Communicator> world;
const x2v_comm_api_v1* world_api = nullptr;

}  // namespace

int launched_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
    if (const int value = environment_int(name); value > 0) return value;
  return 1;
}

int launched_world_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') return std::atoi(value);
  return 0;
}

Communicator& world_communicator() {
  const std::lock_guard<std::mutex> lock(world_mutex);
  if (world) return *world;
  if (launched_world_size() <= 1) {
    world = make_local_communicator();
    return *world;
  }
  const x2v_comm_api_v1* api = load_plugin_api();
  char error[512] = {0};
  x2v_comm* comm = api->init_world(error, sizeof error);
  if (comm == nullptr) throw Error(kPlace, concat("cannot start ", api->name, ": ", error));
  world_api = api;
  world = std::make_unique<PluginCommunicator>(api, comm);
  return *world;
}

void finalize_communicator() {
  const std::lock_guard<std::mutex> lock(world_mutex);
  world.reset();
  if (world_api != nullptr) world_api->finalize();
  world_api = nullptr;
}

void abort_other_ranks(int code) {
  Communicator* group = nullptr;
  {
    const std::lock_guard<std::mutex> lock(world_mutex);
    group = world.get();
  }
  if (group != nullptr && group->size() > 1) group->abort(code);
}

std::unique_ptr<Communicator> make_local_communicator() {
  return std::make_unique<LocalCommunicator>();
}

}  // namespace x2v
