/* The communicator plugin ABI: a collective-communication library (MPI today; NCCL, HCCL or CNCL later)
 * loaded at run time, so x2v itself never links one and runs single-process where none is installed.
 * Plain C; every call returns 0 on success or writes a message to `error` and returns non-zero. Byte
 * counts are 64-bit; a plugin splits or refuses what its library cannot send at once. */
#ifndef X2V_COMM_ABI_H
#define X2V_COMM_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define X2V_COMM_ABI_VERSION 1

typedef struct x2v_comm x2v_comm; /* one group of ranks, opaque */

typedef struct x2v_comm_api_v1 {
  uint32_t abi_version; /* X2V_COMM_ABI_VERSION */
  const char* name;     /* "mpi" */
  /* Starts the library and returns the group of every rank (MPI_COMM_WORLD). */
  x2v_comm* (*init_world)(char* error, size_t error_size);
  int (*rank)(const x2v_comm* comm);
  int (*size)(const x2v_comm* comm);
  /* Ranks with the same color form a group, ordered by key (MPI_Comm_split). */
  x2v_comm* (*split)(x2v_comm* comm, int color, int key, char* error, size_t error_size);
  void (*free_comm)(x2v_comm* comm);
  /* Block i of `send` (bytes_per_rank each) goes to rank i; block i of `receive` comes from rank i. */
  int (*all_to_all)(x2v_comm* comm, const void* send, void* receive, uint64_t bytes_per_rank, char* error,
                    size_t error_size);
  /* Every rank's `send` (counts[rank] bytes), concatenated in rank order into `receive` on every rank. */
  int (*all_gather)(x2v_comm* comm, const void* send, void* receive, const uint64_t* counts, char* error,
                    size_t error_size);
  int (*broadcast)(x2v_comm* comm, void* data, uint64_t bytes, int root, char* error, size_t error_size);
  int (*send)(x2v_comm* comm, const void* data, uint64_t bytes, int peer, int tag, char* error,
              size_t error_size);
  int (*receive)(x2v_comm* comm, void* data, uint64_t bytes, int peer, int tag, char* error,
                 size_t error_size);
  /* Sends to `destination` and receives from `source` at once (no ordering deadlock). */
  int (*send_receive)(x2v_comm* comm, const void* send, uint64_t send_bytes, int destination, void* receive,
                      uint64_t receive_bytes, int source, int tag, char* error, size_t error_size);
  int (*barrier)(x2v_comm* comm, char* error, size_t error_size);
  /* Ends every rank of the job with `code` (MPI_Abort); does not return. */
  void (*abort_all)(x2v_comm* comm, int code);
  /* Shuts the library down at a normal exit. */
  void (*finalize)(void);
} x2v_comm_api_v1;

/* The one symbol a communicator plugin exports. Returns null for an ABI version it does not implement. */
typedef const x2v_comm_api_v1* (*x2v_comm_api_fn)(uint32_t abi_version);
#define X2V_COMM_API_SYMBOL "x2v_comm_api"

#ifdef __cplusplus
}
#endif

#endif
