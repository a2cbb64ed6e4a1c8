// open_checkpoint: one interface over every format, sharded checkpoints, model directories.
#include "io/checkpoint.h"

#include <filesystem>

#include "io/safetensors.h"
#include "io_test_util.h"

namespace x2v::io {
namespace {

using testing::expect_error;
using testing::fixture;
namespace fs = std::filesystem;

void expect_torch_values(const Checkpoint& checkpoint) {
  const auto expected = testing::expected_tensors();
  ASSERT_EQ(checkpoint.names().size(), expected.size()) << checkpoint.path();
  for (const auto& [name, reference] : expected) {
    SCOPED_TRACE(name);
    EXPECT_EQ(checkpoint.info(name).shape, reference.shape);
    EXPECT_EQ(testing::tensor_bytes(checkpoint.load(name)), reference.bytes);
  }
}

TEST(Checkpoint, OpensEveryFormat) {
  testing::ScratchDir scratch;
  fs::copy_file(fixture("weights.pth"), scratch.file("pytorch_model.bin"));
  fs::copy_file(fixture("weights.pth"), scratch.file("model.PT"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {fixture("weights.safetensors"), "safetensors"},
      {fixture("weights.pth"), "pth"},
      {scratch.file("pytorch_model.bin"), "pth"},
      {scratch.file("model.PT"), "pth"},
      {fixture("sharded/diffusion_pytorch_model.safetensors.index.json"), "safetensors index"},
      {fixture("sharded"), "safetensors index"},
  };
  for (const auto& [path, format] : cases) {
    SCOPED_TRACE(path);
    const auto checkpoint = open_checkpoint(path);
    EXPECT_EQ(checkpoint->format(), format);
    expect_torch_values(*checkpoint);
  }
}

TEST(Checkpoint, ShardsOpenLazily) {
  const auto shards =
      SafetensorsShards::from_index(fixture("sharded/diffusion_pytorch_model.safetensors.index.json"));
  EXPECT_EQ(shards->open_shard_count(), 0u);
  EXPECT_EQ(shards->names().front(), "blocks.0.attn.q.weight");
  EXPECT_EQ(shards->metadata().at("total_size"), "580");
  shards->load("blocks.0.attn.q.weight");
  EXPECT_EQ(shards->open_shard_count(), 1u);
  shards->info("blocks.0.attn.q.weight");
  EXPECT_EQ(shards->open_shard_count(), 1u);
  shards->load("mask");
  EXPECT_EQ(shards->open_shard_count(), 2u);
  expect_error([&] { shards->load("nope"); }, {"no tensor named 'nope'"});
}

TEST(Checkpoint, BrokenIndexes) {
  testing::ScratchDir scratch;
  const std::string shard = "diffusion_pytorch_model-00001-of-00002.safetensors";
  fs::copy_file(fixture("sharded/" + shard), scratch.file(shard));
  const std::string index = scratch.file("model.safetensors.index.json");
  auto write_index = [&](const std::string& text) {
    testing::write_bytes(index, {text.begin(), text.end()});
  };

  write_index(R"({"weight_map": {"blocks.0.attn.q.weight": "missing.safetensors"}})");
  expect_error([&] { open_checkpoint(index); }, {"shard 'missing.safetensors' is missing"});
  write_index(R"({"weight_map": {"w": "../../etc/passwd"}})");
  expect_error([&] { open_checkpoint(index); }, {"tensor 'w'", "shard next to the index"});
  write_index(R"({"weight_map": {"w": 3}})");
  expect_error([&] { open_checkpoint(index); }, {"tensor 'w'"});
  write_index(R"({"metadata": {}})");
  expect_error([&] { open_checkpoint(index); }, {"no \"weight_map\""});
  write_index(R"({"weight_map": )");
  expect_error([&] { open_checkpoint(index); }, {"not valid JSON"});
  // The index names a tensor its shard does not hold.
  write_index(R"({"weight_map": {"mask": ")" + shard + R"("}})");
  const auto checkpoint = open_checkpoint(index);
  expect_error([&] { checkpoint->load("mask"); }, {"tensor 'mask'", shard, "has no such tensor"});
}

TEST(Checkpoint, DirectoriesOfSafetensorsFiles) {
  testing::ScratchDir scratch;
  for (const char* shard : {"diffusion_pytorch_model-00001-of-00002.safetensors",
                            "diffusion_pytorch_model-00002-of-00002.safetensors"})
    fs::copy_file(fixture(std::string("sharded/") + shard), scratch.file(shard));
  const auto directory = open_checkpoint(scratch.path().string());  // no index: every *.safetensors
  EXPECT_EQ(directory->format(), "safetensors directory");
  expect_torch_values(*directory);

  fs::copy_file(fixture("weights.safetensors"), scratch.file("copy.safetensors"));
  expect_error([&] { open_checkpoint(scratch.path().string()); }, {"is in both", "copy.safetensors"});

  testing::ScratchDir single;
  fs::copy_file(fixture("weights.safetensors"), single.file("model.safetensors"));
  EXPECT_EQ(open_checkpoint(single.path().string())->format(), "safetensors");

  testing::ScratchDir empty;
  expect_error([&] { open_checkpoint(empty.path().string()); }, {"[checkpoint]", "holds no *.safetensors"});
}

TEST(Checkpoint, MissingAndUnknownPaths) {
  expect_error([] { open_checkpoint("/nonexistent/model.safetensors"); },
               {"[checkpoint]", "/nonexistent/model.safetensors", "no such file", ".pth"});
  expect_error([] { open_checkpoint(fixture("expected.json")); },
               {"expected.json", "unknown checkpoint type '.json'", ".safetensors"});
}

TEST(Checkpoint, HumanBytes) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(uint64_t{3} << 30), "3.0 GiB");
}

}  // namespace
}  // namespace x2v::io
