// The parallel plan without MPI: LightX2V's "parallel" keys and every refusal, the VAE grid against
// LightX2V's table, the sequence shards, and the one-rank communicator. The multi-rank runs are mpirun tests
// (tests/parallel).
#include <gtest/gtest.h>

#include "io/config.h"
#include "parallel/sequence_parallel.h"
#include "parallel/patch_grid.h"
#include "parallel/parallel_plan.h"
#include "platform/ops.h"

namespace x2v {
namespace {

io::Config config_of(const nlohmann::json& values) {
  return io::Config(values, "test.json");
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(ParallelOptions, ReadsLightX2VKeysAndDefaults) {
  const ParallelOptions off = ParallelOptions::from_config(config_of({{"infer_steps", 4}}));
  EXPECT_FALSE(off.enabled);
  EXPECT_EQ(off.ranks(), 1);
  EXPECT_FALSE(off.vae_parallel);
  const ParallelOptions both = ParallelOptions::from_config(
      config_of({{"parallel", {{"cfg_p_size", 2}, {"seq_p_size", 4}, {"seq_p_attn_type", "ulysses"}}}}));
  EXPECT_TRUE(both.enabled);
  EXPECT_EQ(both.ranks(), 8);
  EXPECT_TRUE(both.vae_parallel);  // LightX2V's default with a parallel object
  const ParallelOptions no_vae =
      ParallelOptions::from_config(config_of({{"parallel", {{"seq_p_size", 2}, {"vae_parallel", false}}}}));
  EXPECT_FALSE(no_vae.vae_parallel);
  EXPECT_NO_THROW(both.check(8, 40, true));
}

TEST(ParallelOptions, EachBadSettingIsOneClearError) {
  EXPECT_NE(error_of([] {
              ParallelOptions::from_config(config_of({{"parallel", {{"cfg_p_size", 3}}}}));
            }).find("so it is 1 or 2"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ParallelOptions::from_config(config_of({{"parallel", {{"seq_p_attn_type", "ring"}}}}));
            }).find("ring attention) is not built"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ParallelOptions::from_config(config_of({{"parallel", {{"tensor_p_size", 4}}}}));
            }).find("tensor parallel"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ParallelOptions::from_config(config_of({{"parallel", {{"seq_p_sise", 2}}}}));
            }).find("did you mean seq_p_size?"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ParallelOptions::from_config(config_of({{"parallel", 4}}));
            }).find("give an object"),
            std::string::npos);
  const ParallelOptions options =
      ParallelOptions::from_config(config_of({{"parallel", {{"cfg_p_size", 2}, {"seq_p_size", 2}}}}));
  EXPECT_NE(error_of([&] { options.check(2, 12, true); }).find("= 4 ranks but x2v runs on 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { options.check(1, 12, true); }).find("start it with mpirun -np 4"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { options.check(4, 5, true); }).find("does not divide the model's 5 attention heads"),
      std::string::npos);
  EXPECT_NE(error_of([&] { options.check(4, 12, false); }).find("enable_cfg is false"), std::string::npos);
  const ParallelOptions off = ParallelOptions::from_config(config_of({{"infer_steps", 4}}));
  EXPECT_NE(error_of([&] { off.check(2, 12, true); }).find("has no \"parallel\" section"), std::string::npos);
}

TEST(ParallelOptions, KnownButUnbuiltKeysAreWarnings) {
  std::vector<std::string> warnings;
  ParallelOptions::from_config(
      config_of(
          {{"parallel", {{"seq_p_size", 2}, {"seq_p_fp8_comm", true}, {"seq_p_a2a_backend", "torch"}}}}),
      &warnings);
  ASSERT_EQ(warnings.size(), 1u);  // the backend key asks for LightX2V's default, so it is silent
  EXPECT_NE(warnings[0].find("parallel.seq_p_fp8_comm is not implemented"), std::string::npos);
}

TEST(PatchGrid, ShapesFollowLightX2VsTable) {
  EXPECT_EQ(PatchGrid::shape_for(2, 60, 104), std::make_pair(1, 2));
  EXPECT_EQ(PatchGrid::shape_for(4, 60, 104), std::make_pair(2, 2));
  EXPECT_EQ(PatchGrid::shape_for(8, 60, 104), std::make_pair(2, 4));
  EXPECT_EQ(PatchGrid::shape_for(2, 104, 60), std::make_pair(2, 1));
  EXPECT_EQ(PatchGrid::shape_for(8, 104, 60), std::make_pair(4, 2));
  EXPECT_EQ(PatchGrid::shape_for(4, 4, 30), std::make_pair(1, 4));
  EXPECT_THROW(PatchGrid::shape_for(4, 1, 3), Error);
}

TEST(PatchGrid, OneRankPadsWithZerosAndIsTheWholeFrame) {
  const std::unique_ptr<Communicator> group = make_local_communicator();
  const PatchGrid grid(*group, 2, 3);
  const Tensor tile = Tensor::host_from({1, 2, 3, 4, 5, 6}, {1, 1, 2, 3});
  const std::vector<float> bordered = grid.with_halo(tile).to_floats();
  EXPECT_EQ(bordered, (std::vector<float>{0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(grid.whole(tile).to_floats(), tile.to_floats());
  EXPECT_EQ(grid.tile(tile).to_floats(), tile.to_floats());
}

TEST(SequenceShard, OneRankIsTheWholeSequence) {
  const std::unique_ptr<Communicator> group = make_local_communicator();
  const SequenceShard shard = SequenceShard::make(group.get(), 7);
  EXPECT_FALSE(shard.active());
  EXPECT_EQ(shard.count, 7);
  EXPECT_EQ(shard.real(), 7);
  const Tensor rows = Tensor::host_from({1, 2, 3, 4, 5, 6, 7}, {7, 1});
  EXPECT_EQ(gather_rows(shard, shard_rows(shard, rows)).to_floats(), rows.to_floats());
}

TEST(Communicator, OneRankCopiesAndRefusesPeers) {
  const std::unique_ptr<Communicator> group = make_local_communicator();
  EXPECT_EQ(group->size(), 1);
  EXPECT_EQ(group->backend(), "local");
  const float sent[2] = {1, 2};
  float received[2] = {0, 0};
  group->all_gather(sent, received, {sizeof sent});
  EXPECT_EQ(received[1], 2);
  EXPECT_THROW(group->send(sent, sizeof sent, 1, 0), InternalError);
  group->send_receive(sent, sizeof sent, -1, received, sizeof received, -1, 0);  // no peers: nothing
  EXPECT_EQ(group->bytes_sent(), 0u);
  EXPECT_EQ(launched_world_size(), 1);  // ctest does not run under mpirun
}

}  // namespace
}  // namespace x2v
