// --save_frames staged beside the target: nothing at the target until finish(), an earlier result
// replaced as a whole (intact until then), a folder with other files refused before and at finish(), the
// staging folder gone on destruction or interrupt cleanup, and check_frames_folder's errors.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "io/image.h"
#include "io/interrupt_cleanup.h"
#include "io_test_util.h"

namespace x2v::io {
namespace {

using testing::expect_error;

// `count` frames of 8x8, each a flat gray that `shade` and the frame index pick.
Tensor flat_frames(int64_t count, float shade) {
  Tensor frames = Tensor::host({3, count, 8, 8}, DType::f32);
  float* data = frames.data<float>();
  for (int64_t i = 0; i < frames.numel(); ++i) data[i] = shade + 0.05f * static_cast<float>(i / 64 % count);
  return frames;
}

std::vector<std::string> sorted_listing(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Every file of `folder` by name, with its bytes.
std::map<std::string, std::vector<uint8_t>> contents(const std::string& folder) {
  std::map<std::string, std::vector<uint8_t>> files;
  for (const std::string& name : sorted_listing(folder))
    files[name] = testing::read_bytes(folder + "/" + name);
  return files;
}

const std::vector<std::string> kTwoFrames = {"frame_00000.png", "frame_00001.png"};
const std::vector<std::string> kThreeFrames = {"frame_00000.png", "frame_00001.png", "frame_00002.png"};

// Writes `count` frames to `folder` and publishes them.
void write_result(const std::string& folder, int64_t count, float shade) {
  PngFrameWriter writer(folder);
  writer.write(flat_frames(count, shade));
  writer.finish();
}

TEST(FrameWriterStaging, NothingAtTheTargetUntilFinish) {
  testing::ScratchDir scratch;
  const std::string folder = scratch.file("frames");
  PngFrameWriter writer(folder);
  writer.write(flat_frames(1, -0.5f));
  writer.write(flat_frames(1, 0.5f));
  EXPECT_EQ(writer.frames_written(), 2);
  EXPECT_EQ(writer.frame_path(1), folder + "/frame_00001.png");
  EXPECT_FALSE(std::filesystem::exists(folder));
  const std::vector<std::string> staged = scratch.listing();
  ASSERT_EQ(staged.size(), 1u);
  EXPECT_EQ(staged[0].rfind(".frames.tmp-", 0), 0u) << staged[0];
  EXPECT_EQ(sorted_listing(scratch.file(staged[0])), kTwoFrames);

  writer.finish();
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"frames"});
  EXPECT_EQ(sorted_listing(folder), kTwoFrames);
  EXPECT_EQ(read_image(writer.frame_path(0)).shape(), (Shape{3, 8, 8}));
}

TEST(FrameWriterStaging, ReplacesAnEarlierResultAsAWhole) {
  testing::ScratchDir scratch;
  const std::string folder = scratch.file("frames");
  write_result(folder, 3, -0.5f);
  const auto earlier = contents(folder);
  {
    PngFrameWriter writer(folder);
    writer.write(flat_frames(2, 0.5f));
    EXPECT_EQ(contents(folder), earlier) << "the earlier result stays until the new one is complete";
    writer.finish();
  }
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"frames"}) << "the earlier folder is gone";
  const auto replaced = contents(folder);
  ASSERT_EQ(sorted_listing(folder), kTwoFrames) << "no frame of the earlier result is left";
  EXPECT_NE(replaced.at("frame_00000.png"), earlier.at("frame_00000.png"));

  // An empty folder is taken too, and a trailing separator names the same folder.
  std::filesystem::create_directory(scratch.file("empty"));
  write_result(scratch.file("empty/"), 3, 0.0f);
  EXPECT_EQ(sorted_listing(scratch.file("empty")), kThreeFrames);
}

TEST(FrameWriterStaging, UnfinishedWriterLeavesTheEarlierResult) {
  testing::ScratchDir scratch;
  const std::string folder = scratch.file("frames");
  write_result(folder, 3, -0.5f);
  const auto earlier = contents(folder);
  {
    PngFrameWriter writer(folder);
    writer.write(flat_frames(2, 0.5f));
  }
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"frames"}) << "the staging folder goes";
  EXPECT_EQ(contents(folder), earlier);

  // An interrupt's cleanup removes the staging folder too.
  {
    PngFrameWriter writer(scratch.file("new"));
    writer.write(flat_frames(1, 0.5f));
    EXPECT_EQ(scratch.listing().size(), 2u);
    remove_registered_temporaries();
    EXPECT_EQ(scratch.listing(), std::vector<std::string>{"frames"});
  }
  EXPECT_EQ(contents(folder), earlier);
}

TEST(FrameWriterStaging, RefusesAFolderWithOtherFiles) {
  testing::ScratchDir scratch;
  const std::string folder = scratch.file("photos");
  std::filesystem::create_directory(folder);
  testing::write_bytes(folder + "/notes.txt", {'x'});
  testing::write_bytes(folder + "/frame_00000.png", {'y'});
  const auto before = contents(folder);
  expect_error([&] { check_frames_folder(folder); },
               {"photos", "holds other files", "notes.txt", "name a new or empty folder"});
  expect_error([&] { PngFrameWriter writer(folder); }, {"holds other files"});
  EXPECT_EQ(contents(folder), before);
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"photos"});

  // A subfolder, or a frame-like name that is not a frame, counts as another file.
  std::filesystem::create_directories(scratch.file("nested/frame_00000.png"));
  expect_error([&] { check_frames_folder(scratch.file("nested")); }, {"holds other files"});
  std::filesystem::create_directory(scratch.file("short"));
  testing::write_bytes(scratch.file("short/frame_1.png"), {1});
  expect_error([&] { check_frames_folder(scratch.file("short")); }, {"frame_1.png"});

  // Other files appearing during the run: finish() refuses, the staging folder goes.
  const std::string late = scratch.file("late");
  {
    PngFrameWriter writer(late);
    writer.write(flat_frames(1, 0.0f));
    std::filesystem::create_directory(late);
    testing::write_bytes(late + "/notes.txt", {'z'});
    expect_error([&] { writer.finish(); }, {"late", "holds other files"});
  }
  EXPECT_EQ(sorted_listing(late), std::vector<std::string>{"notes.txt"});
  for (const std::string& name : scratch.listing()) EXPECT_NE(name[0], '.') << name;
}

TEST(FrameWriterStaging, CheckFramesFolderErrors) {
  testing::ScratchDir scratch;
  expect_error([&] { check_frames_folder(""); }, {"empty path", "name a folder"});
  testing::write_bytes(scratch.file("file"), {1});
  expect_error([&] { check_frames_folder(scratch.file("file")); }, {"file", "exists and is not a folder"});
  expect_error([&] { check_frames_folder(scratch.file("no/such/frames")); },
               {"no/such/frames", "does not exist", "create it first"});
  expect_error([&] { PngFrameWriter writer(scratch.file("no/such/frames")); }, {"create it first"});
  check_frames_folder(scratch.file("frames"));  // new: fine
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"file"}) << "checks create nothing";
  if (::geteuid() != 0) {  // root writes anywhere
    std::filesystem::create_directory(scratch.file("locked"));
    ::chmod(scratch.file("locked").c_str(), 0555);
    expect_error([&] { check_frames_folder(scratch.file("locked/frames")); },
                 {"locked", "is not writable", "choose another place"});
    ::chmod(scratch.file("locked").c_str(), 0755);
  }
}

TEST(FrameWriterStaging, ThroughASymbolicLinkTheLinkedFolderIsReplaced) {
  testing::ScratchDir scratch;
  write_result(scratch.file("real"), 3, -0.5f);
  std::filesystem::create_directory_symlink("real", scratch.file("link"));
  write_result(scratch.file("link"), 2, 0.5f);
  EXPECT_TRUE(std::filesystem::is_symlink(scratch.file("link")));
  EXPECT_EQ(sorted_listing(scratch.file("real")), kTwoFrames);
  EXPECT_EQ(sorted_listing(scratch.path().string()), (std::vector<std::string>{"link", "real"}));
}

}  // namespace
}  // namespace x2v::io
