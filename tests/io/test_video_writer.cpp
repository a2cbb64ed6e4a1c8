// The MP4 writer, checked from outside with FFmpeg's own tools: ffprobe for the stream's properties and
// ffmpeg decoding the frames back to RGB. Also its atomicity (nothing left by an unfinished writer) and
// its Errors. Tests that need ffprobe/ffmpeg skip when those are not installed.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "io/video_writer.h"
#include "io_test_util.h"

namespace x2v::io {
namespace {

using testing::expect_error;

constexpr int64_t kWidth = 48, kHeight = 32;

bool have_tool(const char* name) {
  return std::system(concat("command -v ", name, " > /dev/null 2>&1").c_str()) == 0;
}

// Everything `command` prints on stdout.
std::string run_output(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return output;
  char buffer[65536];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, got);
  ::pclose(pipe);
  return output;
}

// Smooth content (H.264 keeps it well): gradients that move from frame to frame, in [-0.9, 0.9].
float smooth_value(int64_t channel, int64_t frame, int64_t y, int64_t x) {
  const double u = static_cast<double>(x) / (kWidth - 1), v = static_cast<double>(y) / (kHeight - 1);
  const double phase = 0.35 * static_cast<double>(frame);
  const double value = channel == 0   ? std::sin(2.0 * u + phase)
                       : channel == 1 ? std::cos(1.5 * v - phase)
                                      : u * v * 2 - 1;
  return static_cast<float>(0.9 * value);
}

// Frames [3, count, H, W] starting at video frame `first`.
Tensor smooth_frames(int64_t first, int64_t count) {
  Tensor frames = Tensor::host({3, count, kHeight, kWidth}, DType::f32);
  float* data = frames.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t f = 0; f < count; ++f)
      for (int64_t y = 0; y < kHeight; ++y)
        for (int64_t x = 0; x < kWidth; ++x)
          data[((c * count + f) * kHeight + y) * kWidth + x] = smooth_value(c, first + f, y, x);
  return frames;
}

// What the official Wan cache_video stores for a value: uint8((clamp(x, -1, 1) + 1) / 2 * 255), truncated.
int expected_pixel(float value) {
  const float clamped = std::fmin(std::fmax(value, -1.0f), 1.0f);
  return static_cast<int>(std::trunc((clamped + 1.0f) / 2.0f * 255.0f));
}

std::map<std::string, std::string> probe(const std::string& path) {
  const std::string text = run_output(concat(
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
      "stream=codec_name,pix_fmt,width,height,nb_read_frames,r_frame_rate -of default=noprint_wrappers=1 '",
      path, "'"));
  std::map<std::string, std::string> fields;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const size_t equals = line.find('=');
    if (equals != std::string::npos) fields[line.substr(0, equals)] = line.substr(equals + 1);
    start = end + 1;
  }
  return fields;
}

TEST(Mp4Writer, StreamsChunksIntoAnH264File) {
  if (!have_tool("ffprobe") || !have_tool("ffmpeg")) GTEST_SKIP() << "ffprobe/ffmpeg not installed";
  testing::ScratchDir scratch;
  const std::string path = scratch.file("out.mp4");
  {
    Mp4Writer writer(path, kWidth, kHeight, VideoOptions{16, 18});
    writer.write(smooth_frames(0, 1));  // the VAE's chunks: 1 frame, then 4
    EXPECT_EQ(writer.frames_written(), 1);
    writer.write(smooth_frames(1, 4));
    EXPECT_EQ(writer.frames_written(), 5);
    EXPECT_FALSE(std::filesystem::exists(path)) << "the video appears only when finished";
    writer.finish();
  }
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"out.mp4"});

  const auto fields = probe(path);
  EXPECT_EQ(fields.count("codec_name") ? fields.at("codec_name") : "", "h264");
  EXPECT_EQ(fields.count("pix_fmt") ? fields.at("pix_fmt") : "", "yuv420p");
  EXPECT_EQ(fields.count("width") ? fields.at("width") : "", std::to_string(kWidth));
  EXPECT_EQ(fields.count("height") ? fields.at("height") : "", std::to_string(kHeight));
  EXPECT_EQ(fields.count("nb_read_frames") ? fields.at("nb_read_frames") : "", "5");
  EXPECT_EQ(fields.count("r_frame_rate") ? fields.at("r_frame_rate") : "", "16/1");

  // Decoded back to RGB, the frames are close to what was written (H.264 and 4:2:0 are lossy).
  const std::string rgb = run_output(concat("ffmpeg -v error -i '", path, "' -f rawvideo -pix_fmt rgb24 -"));
  ASSERT_EQ(rgb.size(), static_cast<size_t>(5 * kWidth * kHeight * 3));
  double total_error = 0;
  int worst = 0;
  for (int64_t f = 0; f < 5; ++f)
    for (int64_t y = 0; y < kHeight; ++y)
      for (int64_t x = 0; x < kWidth; ++x)
        for (int64_t c = 0; c < 3; ++c) {
          const int decoded =
              static_cast<uint8_t>(rgb[static_cast<size_t>(((f * kHeight + y) * kWidth + x) * 3 + c)]);
          const int error = std::abs(decoded - expected_pixel(smooth_value(c, f, y, x)));
          total_error += error;
          worst = std::max(worst, error);
        }
  const double mean_error = total_error / static_cast<double>(5 * kWidth * kHeight * 3);
  EXPECT_LT(mean_error, 3.5);  // ffmpeg's own rgb24 -> x264 -> rgb24 round trip measures ~2-2.5 here
  EXPECT_LE(worst, 24);
}

TEST(Mp4Writer, FpsAndOtherSizesReachTheFile) {
  if (!have_tool("ffprobe")) GTEST_SKIP() << "ffprobe not installed";
  testing::ScratchDir scratch;
  const std::string path = scratch.file("fps.mp4");
  Mp4Writer writer(path, 64, 16, VideoOptions{24, 20});
  Tensor frames = Tensor::host({3, 3, 16, 64}, DType::bf16);  // any floating dtype is accepted
  writer.write(frames);
  writer.finish();
  const auto fields = probe(path);
  EXPECT_EQ(fields.count("r_frame_rate") ? fields.at("r_frame_rate") : "", "24/1");
  EXPECT_EQ(fields.count("width") ? fields.at("width") : "", "64");
  EXPECT_EQ(fields.count("nb_read_frames") ? fields.at("nb_read_frames") : "", "3");
}

TEST(Mp4Writer, UnfinishedWriterLeavesNothing) {
  testing::ScratchDir scratch;
  {
    Mp4Writer writer(scratch.file("partial.mp4"), kWidth, kHeight, {});
    writer.write(smooth_frames(0, 2));
    EXPECT_EQ(scratch.listing().size(), 1u) << "the temporary file exists while writing";
  }
  EXPECT_TRUE(scratch.listing().empty());

  // A failing run: the bad chunk throws, the writer is destroyed unfinished.
  try {
    Mp4Writer writer(scratch.file("failed.mp4"), kWidth, kHeight, {});
    writer.write(smooth_frames(0, 1));
    writer.write(Tensor::host({3, 1, kHeight + 2, kWidth}, DType::f32));
    ADD_FAILURE() << "a chunk of the wrong size was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("do not match"), std::string::npos) << error.what();
  }
  EXPECT_TRUE(scratch.listing().empty());
}

TEST(Mp4Writer, ErrorsNameTheProblem) {
  testing::ScratchDir scratch;
  expect_error([&] { Mp4Writer(scratch.file("missing/out.mp4"), kWidth, kHeight, {}); },
               {"missing/out.mp4", "does not exist"});
  testing::write_bytes(scratch.file("file"), {1});
  expect_error([&] { Mp4Writer(scratch.file("file/out.mp4"), kWidth, kHeight, {}); }, {"does not exist"});
  expect_error([&] { Mp4Writer(scratch.file("odd.mp4"), 33, 32, {}); }, {"33x32", "even"});
  expect_error([&] { Mp4Writer(scratch.file("zero.mp4"), 0, 32, {}); }, {"0x32"});
  expect_error([&] { Mp4Writer(scratch.file("fps.mp4"), kWidth, kHeight, VideoOptions{0, 18}); }, {"fps 0"});
  expect_error(
      [&] {
        Mp4Writer(scratch.file("crf.mp4"), kWidth, kHeight, VideoOptions{16, 60});
      },
      {"crf 60"});
  std::filesystem::create_directories(scratch.file("folder.mp4"));
  expect_error([&] { Mp4Writer(scratch.file("folder.mp4"), kWidth, kHeight, {}); }, {"is a folder"});
  EXPECT_EQ(scratch.listing().size(), 2u) << "nothing beyond the test's own file and folder";
}

TEST(Mp4Writer, RejectsBadChunksAndEmptyVideos) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("bad.mp4");
  Mp4Writer writer(path, kWidth, kHeight, {});
  expect_error([&] { writer.write(Tensor::host({kHeight, kWidth}, DType::f32)); }, {path, "[3, n, H, W]"});
  expect_error([&] { writer.write(Tensor::host({4, 1, kHeight, kWidth}, DType::f32)); }, {"[3, n, H, W]"});
  expect_error([&] { writer.write(Tensor::host({3, 1, kHeight, kWidth}, DType::i32)); }, {"floating"});
  expect_error([&] { writer.finish(); }, {path, "no frames"});
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Mp4Writer, UnwritableFolderIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes to any folder";
  testing::ScratchDir scratch;
  std::filesystem::create_directories(scratch.file("locked"));
  std::filesystem::permissions(scratch.file("locked"),
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  expect_error([&] { Mp4Writer(scratch.file("locked/out.mp4"), kWidth, kHeight, {}); }, {"not writable"});
  std::filesystem::permissions(scratch.file("locked"), std::filesystem::perms::owner_all);
}

// A full disk while encoding (the file size limit stands in for it): an Error, and no file left.
TEST(Mp4Writer, FullDiskLeavesNothing) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("full.mp4");
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 4096;
  auto* previous_handler = signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string message;
  try {
    Mp4Writer writer(path, 256, 256, VideoOptions{16, 0});  // lossless noise: far more than 4 KiB
    Tensor frames = Tensor::host({3, 8, 256, 256}, DType::f32);
    float* data = frames.data<float>();
    uint32_t state = 12345;
    for (int64_t i = 0; i < frames.numel(); ++i) {
      state = state * 1664525u + 1013904223u;
      data[i] = static_cast<float>(state >> 8) / 8388608.0f - 1.0f;
    }
    writer.write(frames);
    writer.finish();
  } catch (const Error& error) {
    message = error.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, previous_handler);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_TRUE(scratch.listing().empty());
}

}  // namespace
}  // namespace x2v::io
