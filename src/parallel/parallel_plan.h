#pragma once
// LightX2V's "parallel" config for a run over several ranks (mpirun -np N x2v ...): CFG parallel (the two
// guidance branches on two ranks), Ulysses sequence parallel (tokens split over seq_p_size ranks) and the
// VAE decode split into spatial patches over every rank. The ranks form LightX2V's (cfg_p, seq_p) mesh:
// world rank = cfg index * seq_p_size + sequence index.
#include <memory>
#include <string>
#include <vector>

#include "io/config.h"
#include "platform/communicator.h"

namespace x2v {

struct ParallelOptions {
  bool enabled = false;  // "parallel" given as an object (or true)
  int cfg_p_size = 1;
  int seq_p_size = 1;
  std::string seq_p_attn_type = "ulysses";
  bool vae_parallel = false;  // LightX2V's default: true whenever "parallel" is an object

  // Reads and checks the keys; `warnings` gets one line per LightX2V key x2v knows but does not implement.
  static ParallelOptions from_config(const io::Config& config, std::vector<std::string>* warnings = nullptr);
  int ranks() const { return cfg_p_size * seq_p_size; }
  // Throws Error, naming the fix, unless these sizes fit `world_size` ranks, a model with `heads` attention
  // heads, and `enable_cfg`.
  void check(int world_size, int64_t heads, bool enable_cfg) const;
  std::string describe() const;
};

// Bytes this rank has sent through each group, for the per-step and per-frame figures.
struct ParallelTraffic {
  size_t cfg = 0, sequence = 0, world = 0;
  ParallelTraffic operator-(const ParallelTraffic& earlier) const {
    return {cfg - earlier.cfg, sequence - earlier.sequence, world - earlier.world};
  }
};

// The groups of one run, split from the world once.
class ParallelGroups {
 public:
  // One rank: every group is null.
  ParallelGroups() = default;
  ParallelGroups(Communicator& world, const ParallelOptions& options);

  Communicator* world() const { return world_; }
  // The two ranks sharing this one's tokens but not its guidance branch (null without CFG parallel).
  Communicator* cfg() const { return cfg_.get(); }
  // The ranks sharing this one's guidance branch (null without sequence parallel).
  Communicator* sequence() const { return sequence_.get(); }
  // Every rank, when the VAE decode is split into patches (null otherwise).
  Communicator* vae() const { return vae_parallel_ ? world_ : nullptr; }
  // 0 when this rank runs the conditional branch (or both).
  int cfg_index() const { return cfg_ ? cfg_->rank() : 0; }
  // The rank that prints progress and writes the outputs.
  bool is_output_rank() const { return world_ == nullptr || world_->rank() == 0; }
  const ParallelOptions& options() const { return options_; }
  ParallelTraffic traffic() const;
  // Logs (on rank 0) what this rank sent per step of the sampling loop since `before`.
  void log_sampling_traffic(const ParallelTraffic& before, int64_t steps) const;

 private:
  ParallelOptions options_;
  Communicator* world_ = nullptr;
  std::unique_ptr<Communicator> cfg_, sequence_;
  bool vae_parallel_ = false;
};

// The config's parallel options, checked against the world's size, a model with `heads` heads and
// `enable_cfg`, and their groups (splitting the world is collective: every rank calls this).
std::unique_ptr<ParallelGroups> make_parallel_groups(const io::Config& config, int64_t heads, bool enable_cfg,
                                                     std::vector<std::string>* warnings = nullptr);

}  // namespace x2v
