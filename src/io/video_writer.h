#pragma once
// MP4 output (H.264, yuv420p) through FFmpeg's libraries. Frames are encoded as they arrive, chunk by
// chunk (the VAE decoder streams 1 then 4 frames at a time), so the whole video is never held in memory.
// The file is written under a temporary name in the target folder and appears under its own name only
// when finish() completes; a writer destroyed before that (a failed run) deletes the temporary file.
#include <cstdint>
#include <memory>
#include <string>

#include "core/tensor.h"

namespace x2v::io {

struct VideoOptions {
  int fps = 16;  // Wan2.1 generates 16 frames per second
  int crf = 18;  // x264 constant rate factor: 0 lossless .. 51 worst; ~18 looks lossless
};

class Mp4Writer {
 public:
  // Opens the encoder and the temporary file. Error when the folder is missing or unwritable, the size is
  // odd or not positive (yuv420p halves both), the options are out of range, or libx264 is unavailable.
  Mp4Writer(const std::string& path, int64_t width, int64_t height, const VideoOptions& options = {});
  Mp4Writer(const Mp4Writer&) = delete;
  Mp4Writer& operator=(const Mp4Writer&) = delete;
  // Removes the temporary file when finish() was not reached.
  ~Mp4Writer();

  // Appends and encodes `frames`: a host floating tensor [3, n, H, W] in [-1, 1] of the writer's size.
  void write(const Tensor& frames);
  // Flushes the encoder, writes the trailer and renames the file onto its path.
  void finish();
  int64_t frames_written() const;
  const std::string& path() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace x2v::io
