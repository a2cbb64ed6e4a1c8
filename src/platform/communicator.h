#pragma once
// Collective communication between the ranks of a distributed run, as NCCL, HCCL or MPI offer it. The models
// see only this interface; the library behind it (MPI today) is a plugin loaded at run time
// (include/x2v/comm_abi.h), so a build without MPI, or a machine without it, runs single-process. The byte
// calls work on host memory; platform/collectives.h moves device tensors through them.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace x2v {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "local" (one rank) or the plugin's name ("mpi").
  virtual std::string backend() const = 0;

  // Block i of `send` (bytes_per_rank each) goes to rank i; block i of `receive` comes from rank i.
  virtual void all_to_all(const void* send, void* receive, size_t bytes_per_rank) = 0;
  // Every rank's `send` (counts[rank] bytes) concatenated in rank order into `receive`, on every rank.
  virtual void all_gather(const void* send, void* receive, const std::vector<size_t>& counts) = 0;
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void send(const void* data, size_t bytes, int peer, int tag) = 0;
  virtual void receive(void* data, size_t bytes, int peer, int tag) = 0;
  // Sends to `destination` while receiving from `source`; a negative rank means no peer on that side.
  virtual void send_receive(const void* send, size_t send_bytes, int destination, void* receive,
                            size_t receive_bytes, int source, int tag) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job with `code`; never returns.
  [[noreturn]] virtual void abort(int code) = 0;
  // The ranks passing the same `color` as a group of their own, ordered by `key`.
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;

  // Bytes this rank has sent through this group (collectives count what leaves the rank).
  size_t bytes_sent() const { return bytes_sent_; }

 protected:
  void count_sent(size_t bytes) { bytes_sent_ += bytes; }

 private:
  size_t bytes_sent_ = 0;
};

// The group of every rank of this job: a one-rank group, unless x2v was started by an MPI launcher
// (mpirun sets OMPI_COMM_WORLD_SIZE or PMI_SIZE) with more than one rank, in which case the MPI plugin
// (libx2v_mpi.so next to the executable, or X2V_COMM_PLUGIN) is loaded and initialised on first use.
Communicator& world_communicator();
// The world's size and this process's rank from the launcher's environment, without starting anything.
int launched_world_size();
int launched_world_rank();
// Shuts the plugin's library down at a normal exit (a no-op for one rank).
void finalize_communicator();
// Ends every rank when the world has several (after the caller printed its message), else returns.
void abort_other_ranks(int code);

// A group of one rank: collectives copy, and point-to-point calls to a peer are internal errors.
std::unique_ptr<Communicator> make_local_communicator();

}  // namespace x2v
