// H.264 in MP4 through libavformat/libavcodec (libx264), RGB -> yuv420p through swscale.
#include "io/video_writer.h"

#include <unistd.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "io/image.h"
#include "io/interrupt_cleanup.h"

namespace x2v::io {
namespace {

constexpr const char* kPlace = "video";
constexpr const char* kEncoder = "libx264";
constexpr const char* kPreset = "medium";

// The temporary file sits next to the target so the final rename stays on one file system.
std::string temporary_path_for(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path target(path);
  const std::filesystem::path directory = target.has_parent_path() ? target.parent_path() : ".";
  return (directory / concat(".", target.filename().string(), ".tmp-", ::getpid(), "-", counter++)).string();
}

void check_target(const std::string& path) {
  if (path.empty()) throw Error(kPlace, "the output video path is empty; name an .mp4 file");
  const std::filesystem::path target(path);
  const std::filesystem::path directory = target.has_parent_path() ? target.parent_path() : ".";
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error))
    throw Error(kPlace,
                concat(path, ": the folder ", directory.string(), " does not exist; create it first"));
  if (std::filesystem::is_directory(target, error))
    throw Error(kPlace, concat(path, ": is a folder; name an .mp4 file"));
  if (::access(directory.c_str(), W_OK | X_OK) != 0)
    throw Error(kPlace, concat(path, ": the folder ", directory.string(), " is not writable (",
                               std::strerror(errno), "); choose another output folder"));
}

}  // namespace

struct Mp4Writer::State {
  std::string path, temporary;
  int width = 0, height = 0;
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVStream* stream = nullptr;  // owned by `format`
  SwsContext* scaler = nullptr;
  AVFrame* frame = nullptr;  // the yuv420p frame handed to the encoder, reused
  AVPacket* packet = nullptr;
  std::vector<uint8_t> rgb;  // one frame of interleaved RGB24
  int64_t frames_written = 0;
  bool file_created = false;
  bool failed = false;  // an error left the encoder in an unknown state: refuse further use
  bool finished = false;

  ~State() {
    if (format && format->pb) avio_closep(&format->pb);
    if (!finished && file_created) {
      ::unlink(temporary.c_str());
      unregister_temporary(temporary);
    }
    av_packet_free(&packet);
    av_frame_free(&frame);
    sws_freeContext(scaler);
    avcodec_free_context(&codec);
    avformat_free_context(format);
  }

  [[noreturn]] void fail(const std::string& what, int code) {
    failed = true;
    throw Error(kPlace, concat(path, ": ", what, " (", libav_error_text(code), ")"));
  }

  void open(const VideoOptions& options) {
    const AVCodec* encoder = avcodec_find_encoder_by_name(kEncoder);
    if (!encoder)
      throw Error(kPlace, concat(path, ": FFmpeg's H.264 encoder libx264 is unavailable; install an FFmpeg ",
                                 "built with libx264 (Debian: libavcodec-extra or libavcodec59 with x264)"));
    if (const int code = avformat_alloc_output_context2(&format, nullptr, "mp4", temporary.c_str()); code < 0)
      fail("cannot set up the MP4 muxer", code);
    codec = avcodec_alloc_context3(encoder);
    frame = av_frame_alloc();
    packet = av_packet_alloc();
    if (!codec || !frame || !packet) throw Error(kPlace, concat(path, ": out of memory opening the encoder"));

    codec->width = width;
    codec->height = height;
    codec->pix_fmt = AV_PIX_FMT_YUV420P;
    codec->time_base = AVRational{1, options.fps};
    codec->framerate = AVRational{options.fps, 1};
    // swscale's RGB -> YUV is BT.601 limited range; say so, so players convert back the same way.
    codec->color_range = AVCOL_RANGE_MPEG;
    codec->colorspace = AVCOL_SPC_SMPTE170M;
    if (format->oformat->flags & AVFMT_GLOBALHEADER) codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(codec->priv_data, "preset", kPreset, 0);
    av_opt_set(codec->priv_data, "crf", std::to_string(options.crf).c_str(), 0);
    if (const int code = avcodec_open2(codec, encoder, nullptr); code < 0)
      fail(concat("cannot open libx264 for ", width, "x", height, " at ", options.fps, " fps"), code);

    stream = avformat_new_stream(format, nullptr);
    if (!stream) throw Error(kPlace, concat(path, ": out of memory adding the video stream"));
    stream->time_base = codec->time_base;
    stream->avg_frame_rate = codec->framerate;
    if (const int code = avcodec_parameters_from_context(stream->codecpar, codec); code < 0)
      fail("cannot describe the video stream", code);

    scaler = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                            SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr, nullptr);
    if (!scaler) throw Error(kPlace, concat(path, ": cannot set up the RGB -> yuv420p conversion"));
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = width;
    frame->height = height;
    if (const int code = av_frame_get_buffer(frame, 0); code < 0) fail("cannot allocate a frame", code);
    rgb.resize(static_cast<size_t>(width) * height * 3);

    register_temporary(temporary);  // before it exists: an interrupt in between would leave it
    if (const int code = avio_open(&format->pb, temporary.c_str(), AVIO_FLAG_WRITE); code < 0) {
      unregister_temporary(temporary);
      throw Error(kPlace, concat(path, ": cannot create a file in its folder (", libav_error_text(code),
                                 "); check that the folder exists and is writable"));
    }
    file_created = true;
    AVDictionary* muxer_options = nullptr;
    av_dict_set(&muxer_options, "movflags", "+faststart", 0);  // index first: playable while downloading
    const int code = avformat_write_header(format, &muxer_options);
    av_dict_free(&muxer_options);
    if (code < 0) fail("cannot write the MP4 header", code);
  }

  // Sends one frame (nullptr: end of stream) and writes every packet the encoder has ready.
  void encode(AVFrame* input) {
    int code = avcodec_send_frame(codec, input);
    if (code < 0) fail("H.264 encoding failed", code);
    while (true) {
      code = avcodec_receive_packet(codec, packet);
      if (code == AVERROR(EAGAIN) || code == AVERROR_EOF) return;
      if (code < 0) fail("H.264 encoding failed", code);
      av_packet_rescale_ts(packet, codec->time_base, stream->time_base);
      packet->stream_index = stream->index;
      code = av_interleaved_write_frame(format, packet);  // unreferences the packet
      if (code < 0) fail("cannot write the video (is the disk full?)", code);
    }
  }
};

Mp4Writer::Mp4Writer(const std::string& path, int64_t width, int64_t height, const VideoOptions& options)
    : state_(std::make_unique<State>()) {
  configure_libav_logging();
  check_target(path);
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
    throw Error(kPlace,
                concat(path, ": cannot encode a ", width, "x", height, " video (1..16384 pixels a side)"));
  if (width % 2 != 0 || height % 2 != 0)
    throw Error(kPlace,
                concat(path, ": the video size ", width, "x", height,
                       " is odd; yuv420p needs an even width and height (crop or resize by a pixel)"));
  if (options.fps <= 0 || options.fps > 1000)
    throw Error(kPlace, concat(path, ": fps ", options.fps, " is out of range; use 1..1000 (Wan2.1: 16)"));
  if (options.crf < 0 || options.crf > 51)
    throw Error(kPlace, concat(path, ": crf ", options.crf, " is out of range; use 0 (lossless) .. 51"));
  state_->path = path;
  state_->temporary = temporary_path_for(path);
  state_->width = static_cast<int>(width);
  state_->height = static_cast<int>(height);
  state_->open(options);
  log_debug(kPlace, path, ": encoding ", width, "x", height, " at ", options.fps, " fps, crf ", options.crf);
}

Mp4Writer::~Mp4Writer() = default;

void Mp4Writer::write(const Tensor& frames) {
  State& state = *state_;
  X2V_ASSERT(!state.finished, kPlace, "write() after finish() on ", state.path);
  if (state.failed) throw Error(kPlace, concat(state.path, ": the writer failed earlier; start a new video"));
  const Tensor checked = checked_frames(kPlace, state.path, frames);
  if (checked.size(2) != state.height || checked.size(3) != state.width)
    throw Error(kPlace, concat(state.path, ": frames of ", checked.size(3), "x", checked.size(2),
                               " do not match the video's ", state.width, "x", state.height));
  const uint8_t* source[4] = {state.rgb.data(), nullptr, nullptr, nullptr};
  const int source_stride[4] = {state.width * 3, 0, 0, 0};
  for (int64_t index = 0; index < checked.size(1); ++index) {
    pack_rgb24(checked, index, state.rgb.data());
    // The encoder may still hold a reference to the previous frame's buffer (lookahead).
    if (const int code = av_frame_make_writable(state.frame); code < 0)
      state.fail("cannot allocate a frame", code);
    sws_scale(state.scaler, source, source_stride, 0, state.height, state.frame->data, state.frame->linesize);
    state.frame->pts = state.frames_written;
    state.encode(state.frame);
    ++state.frames_written;
  }
}

void Mp4Writer::finish() {
  State& state = *state_;
  X2V_ASSERT(!state.finished, kPlace, "finish() called twice on ", state.path);
  if (state.failed) throw Error(kPlace, concat(state.path, ": the writer failed earlier; nothing was saved"));
  if (state.frames_written == 0)
    throw Error(kPlace, concat(state.path, ": no frames were written; a video needs at least one frame"));
  state.encode(nullptr);
  if (const int code = av_write_trailer(state.format); code < 0)
    state.fail("cannot finish the MP4 file", code);
  if (const int code = avio_closep(&state.format->pb); code < 0)
    state.fail("cannot close the MP4 file (is the disk full?)", code);
  if (::rename(state.temporary.c_str(), state.path.c_str()) != 0) {
    state.failed = true;
    throw Error(kPlace, concat(state.path, ": cannot rename the finished video onto it (",
                               std::strerror(errno), "); check the folder's permissions"));
  }
  state.finished = true;
  unregister_temporary(state.temporary);
  log_debug(kPlace, state.path, ": wrote ", state.frames_written, " frames");
}

int64_t Mp4Writer::frames_written() const {
  return state_->frames_written;
}

const std::string& Mp4Writer::path() const {
  return state_->path;
}

}  // namespace x2v::io
