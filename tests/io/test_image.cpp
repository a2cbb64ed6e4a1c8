// PNG writing and image reading: exact round trips of 8-bit pixels, PNG frames of a video, other pixel
// formats (gray, RGBA, JPEG) made by the ffmpeg tool, and Errors naming the file.
#include "io/image.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "io_test_util.h"

namespace x2v::io {
namespace {

using testing::expect_error;

bool have_ffmpeg() {
  return std::system("command -v ffmpeg > /dev/null 2>&1") == 0;
}

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

// Values spread over [-1.2, 1.2] (clamping included) that differ per element; `seed` varies them.
Tensor pattern(const Shape& shape, int64_t seed = 0) {
  Tensor tensor = Tensor::host(shape, DType::f32);
  float* data = tensor.data<float>();
  for (int64_t i = 0; i < tensor.numel(); ++i)
    data[i] = static_cast<float>(static_cast<int64_t>((i + seed) * 7919 % 1201) - 600) / 500.0f;
  return tensor;
}

// The 8-bit pixel the official Wan cache_video stores for `value`.
int expected_pixel(float value) {
  const float clamped = std::fmin(std::fmax(value, -1.0f), 1.0f);
  return static_cast<int>(std::trunc((clamped + 1.0f) / 2.0f * 255.0f));
}

// The 8-bit pixel read_image read, from its [-1, 1] value.
int read_pixel(float value) {
  return static_cast<int>(std::lround((value + 1.0f) / 2.0f * 255.0f));
}

// read_image's [3, H, W] as bytes of the RGB pixels it decoded.
std::vector<int> pixels_of(const Tensor& image) {
  std::vector<int> pixels;
  for (const float value : image.to_floats()) pixels.push_back(read_pixel(value));
  return pixels;
}

TEST(Image, PixelConversionMatchesWan) {
  EXPECT_EQ(pixel_from_unit(-1.0f), 0);
  EXPECT_EQ(pixel_from_unit(1.0f), 255);
  EXPECT_EQ(pixel_from_unit(-7.0f), 0);
  EXPECT_EQ(pixel_from_unit(3.0f), 255);
  EXPECT_EQ(pixel_from_unit(0.0f), 127);  // 127.5 truncated, not rounded
  EXPECT_EQ(pixel_from_unit(std::nanf("")), 0);
  for (float value = -1.0f; value <= 1.0f; value += 0.001f)
    EXPECT_EQ(pixel_from_unit(value), expected_pixel(value));
}

TEST(Image, PngRoundTripsExactly) {
  testing::ScratchDir scratch;
  const std::string path = scratch.file("image.png");
  const Tensor image = pattern({3, 24, 40});
  write_png(path, image);
  EXPECT_EQ(scratch.listing(), std::vector<std::string>{"image.png"});
  const Tensor read = read_image(path);
  ASSERT_EQ(read.shape(), (Shape{3, 24, 40}));
  ASSERT_EQ(read.dtype(), DType::f32);
  const std::vector<float> written = image.to_floats(), values = read.to_floats();
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(read_pixel(values[i]), expected_pixel(written[i])) << i;
    // Wan's preprocessing: p / 255 then (v - 0.5) / 0.5, in float32.
    EXPECT_EQ(values[i], (static_cast<float>(expected_pixel(written[i])) / 255.0f - 0.5f) / 0.5f);
  }
}

TEST(Image, PngFramesOfAVideo) {
  testing::ScratchDir scratch;
  const std::string folder = scratch.file("frames");  // created by finish()
  const Tensor first = pattern({3, 1, 16, 24}), rest = pattern({3, 2, 16, 24}, 5);
  {
    PngFrameWriter writer(folder);
    writer.write(first);
    writer.write(rest);
    EXPECT_EQ(writer.frames_written(), 3);
    writer.finish();
  }
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"frame_00000.png", "frame_00001.png", "frame_00002.png"}));

  for (int64_t frame = 0; frame < 3; ++frame) {
    SCOPED_TRACE(frame);
    const Tensor source = frame == 0 ? first.select(1, 0) : rest.select(1, frame - 1);
    const std::vector<float> written = source.to_floats();
    const std::vector<int> read = pixels_of(read_image(concat(folder, "/frame_0000", frame, ".png")));
    ASSERT_EQ(read.size(), written.size());
    for (size_t i = 0; i < read.size(); ++i) ASSERT_EQ(read[i], expected_pixel(written[i])) << i;
  }
}

TEST(Image, UnfinishedFrameWriterRemovesItsFrames) {
  testing::ScratchDir scratch;
  {
    PngFrameWriter writer(scratch.file("new"));
    writer.write(pattern({3, 2, 8, 8}));
  }
  EXPECT_TRUE(scratch.listing().empty()) << "the folder it created goes too";

  // A folder holding other files is refused before any frame is written, and left as it was.
  std::filesystem::create_directories(scratch.file("kept"));
  testing::write_bytes(scratch.file("kept/notes.txt"), {'x'});
  expect_error([&] { PngFrameWriter writer(scratch.file("kept")); }, {"kept", "holds other files"});
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(scratch.file("kept")))
    left.push_back(entry.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"notes.txt"});
}

TEST(Image, OtherPixelFormatsAndJpeg) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg not installed";
  testing::ScratchDir scratch;
  const std::string source = scratch.file("source.png");
  // Smooth content, so JPEG keeps it closely.
  Tensor image = Tensor::host({3, 32, 48}, DType::f32);
  float* data = image.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 32; ++y)
      for (int64_t x = 0; x < 48; ++x)
        data[(c * 32 + y) * 48 + x] = static_cast<float>(0.8 * std::sin(0.07 * x + 0.05 * y + c));
  write_png(source, image);
  const std::vector<int> original = pixels_of(read_image(source));

  auto convert = [&](const std::string& name, const std::string& arguments) {
    const std::string path = scratch.file(name);
    const std::string command = concat("ffmpeg -v error -y -i '", source, "' ", arguments, " '", path, "'");
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return path;
  };

  // RGBA: alpha dropped, colors exact.
  EXPECT_EQ(pixels_of(read_image(convert("alpha.png", "-pix_fmt rgba"))), original);

  // Gray: the gray level in all three channels, exactly as ffmpeg decodes it.
  const std::string gray = convert("gray.png", "-pix_fmt gray");
  const std::string levels =
      run_output(concat("ffmpeg -v error -i '", gray, "' -f rawvideo -pix_fmt gray -"));
  ASSERT_EQ(levels.size(), 32u * 48u);
  const std::vector<int> gray_pixels = pixels_of(read_image(gray));
  for (size_t c = 0; c < 3; ++c)
    for (size_t i = 0; i < levels.size(); ++i)
      ASSERT_EQ(gray_pixels[c * levels.size() + i], static_cast<uint8_t>(levels[i])) << c << " " << i;

  // JPEG (full-range yuvj420p): close to the original.
  const std::string jpeg = convert("photo.jpg", "-q:v 2");
  const Tensor read = read_image(jpeg);
  ASSERT_EQ(read.shape(), (Shape{3, 32, 48}));
  const std::vector<int> decoded = pixels_of(read);
  double total = 0;
  for (size_t i = 0; i < decoded.size(); ++i) total += std::abs(decoded[i] - original[i]);
  EXPECT_LT(total / static_cast<double>(decoded.size()), 3.0);
}

TEST(Image, ErrorsNameTheFile) {
  testing::ScratchDir scratch;
  expect_error([&] { read_image(scratch.file("missing.png")); }, {"missing.png", "no such image"});
  testing::write_bytes(scratch.file("text.png"), {'h', 'e', 'l', 'l', 'o'});
  expect_error([&] { read_image(scratch.file("text.png")); }, {"text.png", "not a PNG or JPEG"});

  write_png(scratch.file("whole.png"), pattern({3, 16, 16}));
  std::vector<uint8_t> bytes = testing::read_bytes(scratch.file("whole.png"));
  bytes.resize(40);  // the signature and part of the header survive
  testing::write_bytes(scratch.file("cut.png"), bytes);
  expect_error([&] { read_image(scratch.file("cut.png")); }, {"cut.png", "cannot decode"});

  expect_error(
      [&] {
        write_png(scratch.file("no/such/folder/x.png"), pattern({3, 4, 4}));
      },
      {"x.png", "folder exists"});
  expect_error([&] { write_png(scratch.file("flat.png"), Tensor::host({4, 4}, DType::f32)); }, {"[3, H, W]"});
  testing::write_bytes(scratch.file("file"), {1});
  expect_error([&] { PngFrameWriter(scratch.file("file")); }, {"file", "not a folder"});
}

}  // namespace
}  // namespace x2v::io
