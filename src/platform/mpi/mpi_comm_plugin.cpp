// The MPI communicator plugin (libx2v_mpi.so): include/x2v/comm_abi.h over an MPI library (OpenMPI from
// Debian). Built only where MPI is found and loaded only when x2v runs under a launcher, so the x2v binary
// never links MPI.
// MPI's C API only: the C++ bindings would need one more library (libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>

#include "x2v/comm_abi.h"

struct x2v_comm {
  MPI_Comm comm;
};

namespace {

void write_error(char* error, size_t error_size, const char* what, int code) {
  if (error == nullptr || error_size == 0) return;
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (code != MPI_SUCCESS) MPI_Error_string(code, text, &length);
  std::snprintf(error, error_size, "%s%s%s", what, length > 0 ? ": " : "", text);
}

// MPI counts are ints; x2v's messages are bytes, so one larger than INT_MAX is refused with its size.
bool fits(uint64_t bytes, const char* what, char* error, size_t error_size) {
  if (bytes <= static_cast<uint64_t>(INT_MAX)) return true;
  if (error != nullptr && error_size > 0)
    std::snprintf(error, error_size, "%s of %llu bytes exceeds MPI's 2 GiB message count", what,
                  static_cast<unsigned long long>(bytes));
  return false;
}

int check(int code, const char* what, char* error, size_t error_size) {
  if (code == MPI_SUCCESS) return 0;
  write_error(error, error_size, what, code);
  return 1;
}

x2v_comm* init_world(char* error, size_t error_size) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    const int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    if (code != MPI_SUCCESS) {
      write_error(error, error_size, "MPI_Init_thread failed", code);
      return nullptr;
    }
  }
  // Errors come back as codes, so x2v can name the operation before it ends the job.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  return new x2v_comm{MPI_COMM_WORLD};
}

int rank(const x2v_comm* comm) {
  int value = 0;
  MPI_Comm_rank(comm->comm, &value);
  return value;
}

int size(const x2v_comm* comm) {
  int value = 0;
  MPI_Comm_size(comm->comm, &value);
  return value;
}

x2v_comm* split(x2v_comm* comm, int color, int key, char* error, size_t error_size) {
  MPI_Comm group;
  const int code = MPI_Comm_split(comm->comm, color, key, &group);
  if (code != MPI_SUCCESS) {
    write_error(error, error_size, "MPI_Comm_split failed", code);
    return nullptr;
  }
  MPI_Comm_set_errhandler(group, MPI_ERRORS_RETURN);
  return new x2v_comm{group};
}

void free_comm(x2v_comm* comm) {
  if (comm == nullptr) return;
  if (comm->comm != MPI_COMM_WORLD) MPI_Comm_free(&comm->comm);
  delete comm;
}

int all_to_all(x2v_comm* comm, const void* send, void* receive, uint64_t bytes_per_rank, char* error,
               size_t error_size) {
  if (!fits(bytes_per_rank, "an all-to-all block", error, error_size)) return 1;
  const int count = static_cast<int>(bytes_per_rank);
  return check(MPI_Alltoall(send, count, MPI_BYTE, receive, count, MPI_BYTE, comm->comm), "MPI_Alltoall",
               error, error_size);
}

int all_gather(x2v_comm* comm, const void* send, void* receive, const uint64_t* counts, char* error,
               size_t error_size) {
  const int ranks = size(comm);
  std::vector<int> sizes(ranks), offsets(ranks);
  uint64_t total = 0;
  for (int i = 0; i < ranks; ++i) {
    offsets[i] = static_cast<int>(total);
    sizes[i] = static_cast<int>(counts[i]);
    total += counts[i];
    if (!fits(total, "an all-gather", error, error_size)) return 1;
  }
  return check(MPI_Allgatherv(send, sizes[rank(comm)], MPI_BYTE, receive, sizes.data(), offsets.data(),
                              MPI_BYTE, comm->comm),
               "MPI_Allgatherv", error, error_size);
}

int broadcast(x2v_comm* comm, void* data, uint64_t bytes, int root, char* error, size_t error_size) {
  if (!fits(bytes, "a broadcast", error, error_size)) return 1;
  return check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm->comm), "MPI_Bcast", error,
               error_size);
}

int send(x2v_comm* comm, const void* data, uint64_t bytes, int peer, int tag, char* error,
         size_t error_size) {
  if (!fits(bytes, "a send", error, error_size)) return 1;
  return check(MPI_Send(data, static_cast<int>(bytes), MPI_BYTE, peer, tag, comm->comm), "MPI_Send", error,
               error_size);
}

int receive(x2v_comm* comm, void* data, uint64_t bytes, int peer, int tag, char* error, size_t error_size) {
  if (!fits(bytes, "a receive", error, error_size)) return 1;
  return check(MPI_Recv(data, static_cast<int>(bytes), MPI_BYTE, peer, tag, comm->comm, MPI_STATUS_IGNORE),
               "MPI_Recv", error, error_size);
}

int send_receive(x2v_comm* comm, const void* send_data, uint64_t send_bytes, int destination,
                 void* receive_data, uint64_t receive_bytes, int source, int tag, char* error,
                 size_t error_size) {
  if (!fits(send_bytes, "a send", error, error_size) || !fits(receive_bytes, "a receive", error, error_size))
    return 1;
  // MPI_PROC_NULL stands for "no peer" on either side (a tile at the image border).
  const int to = destination < 0 ? MPI_PROC_NULL : destination;
  const int from = source < 0 ? MPI_PROC_NULL : source;
  return check(
      MPI_Sendrecv(send_data, static_cast<int>(send_bytes), MPI_BYTE, to, tag, receive_data,
                   static_cast<int>(receive_bytes), MPI_BYTE, from, tag, comm->comm, MPI_STATUS_IGNORE),
      "MPI_Sendrecv", error, error_size);
}

int barrier(x2v_comm* comm, char* error, size_t error_size) {
  return check(MPI_Barrier(comm->comm), "MPI_Barrier", error, error_size);
}

void abort_all(x2v_comm* comm, int code) {
  MPI_Abort(comm != nullptr ? comm->comm : MPI_COMM_WORLD, code);
}

void finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

const x2v_comm_api_v1 kApi = {
    X2V_COMM_ABI_VERSION, "mpi",     init_world, rank,    size,         split,   free_comm, all_to_all,
    all_gather,           broadcast, send,       receive, send_receive, barrier, abort_all, finalize};

}  // namespace

extern "C" __attribute__((visibility("default"))) const x2v_comm_api_v1* x2v_comm_api(uint32_t abi_version) {
  return abi_version == X2V_COMM_ABI_VERSION ? &kApi : nullptr;
}
