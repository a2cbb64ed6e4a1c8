#pragma once
// Still images through FFmpeg's libraries: PNG frames of a generated video (--save_frames), single PNGs,
// and reading a PNG or JPEG as a model input (I2V). Also the pixel conversion and libav housekeeping that
// the MP4 writer shares.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace x2v::io {

// A model output value in [-1, 1] as an 8-bit pixel, exactly as the official Wan `cache_video` does it
// (clamp, normalize to [0, 1], `(t * 255).type(torch.uint8)`): truncation toward zero, not rounding.
// NaN becomes 0 (and is reported once as a warning).
uint8_t pixel_from_unit(float value);

// Checks that `frames` is a host floating tensor [3, n, H, W] and returns it as contiguous f32.
// `place` and `what` (e.g. the output path) tag the Error.
Tensor checked_frames(const char* place, const std::string& what, const Tensor& frames);

// Interleaved RGB24 bytes (H * W * 3) of frame `index` of a contiguous f32 [3, n, H, W] tensor.
void pack_rgb24(const Tensor& frames, int64_t index, uint8_t* rgb);

// Keeps libav's own logging quiet unless X2V_LOG_LEVEL is debug (libav reports through x2v's Errors).
void configure_libav_logging();
// libav's text for an AVERROR code.
std::string libav_error_text(int code);

// Writes one [3, H, W] image with values in [-1, 1] as an RGB8 PNG (atomically).
void write_png(const std::string& path, const Tensor& image);

// Checks, before any work, that `directory` can take the frames of a video: a new folder in an existing,
// writable folder, an empty folder, or a folder holding only frame_NNNNN.png files (an earlier result,
// replaced as a whole). Error naming the problem and the fix otherwise.
void check_frames_folder(const std::string& directory);

// Writes the frames of a video as DIR/frame_00000.png, DIR/frame_00001.png, ... as chunks arrive. They are
// staged in a hidden folder beside DIR (.DIR.tmp-<pid>-<n>, registered with interrupt_cleanup.h) that
// finish() puts in DIR's place, so DIR never holds half a result and an earlier result stays until the
// new one is complete. A writer destroyed before finish() (a failed run) removes its staging folder.
class PngFrameWriter {
 public:
  // Runs check_frames_folder and creates the staging folder; Error when either fails.
  explicit PngFrameWriter(const std::string& directory);
  PngFrameWriter(const PngFrameWriter&) = delete;
  PngFrameWriter& operator=(const PngFrameWriter&) = delete;
  ~PngFrameWriter();

  // `frames`: [3, n, H, W] floating host tensor in [-1, 1].
  void write(const Tensor& frames);
  // Publishes the frames as DIR: moved into place when DIR is missing, replacing DIR as a whole when it
  // is empty or holds an earlier result; Error (the staging folder then goes) when DIR holds anything else.
  void finish();
  int64_t frames_written() const { return written_; }
  // DIR/frame_%05d.png: where frame `index` is once finish() has published the folder.
  std::string frame_path(int64_t index) const;

 private:
  std::string directory_;  // as given, for messages
  std::string target_;     // absolute, symbolic link resolved: where finish() publishes
  std::string staging_;
  bool finished_ = false;
  int64_t written_ = 0;
};

// Reads a PNG or JPEG (any pixel format; alpha dropped) as f32 [3, H, W] in [-1, 1]: p / 255 then
// (v - 0.5) / 0.5, as Wan's I2V preprocessing (to_tensor, sub_(0.5).div_(0.5)). Error naming the file
// when it is missing or cannot be decoded.
Tensor read_image(const std::string& path);

}  // namespace x2v::io
