// PNG/JPEG through libavcodec (single-image codecs need no container) and swscale for pixel formats.
#include "io/image.h"

#include "io/atomic_file.h"
#include "io/interrupt_cleanup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "core/log.h"

namespace x2v::io {
namespace {

constexpr const char* kPlace = "image";

struct CodecContextDeleter {
  void operator()(AVCodecContext* context) const { avcodec_free_context(&context); }
};
struct FrameDeleter {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct PacketDeleter {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct SwsDeleter {
  void operator()(SwsContext* context) const { sws_freeContext(context); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;

template <class T>
T* checked_alloc(T* pointer, const char* what) {
  if (!pointer) throw Error(kPlace, concat("out of memory allocating ", what));
  return pointer;
}

// A PNG of `rgb` (interleaved RGB24, width * 3 bytes a row).
std::vector<uint8_t> encode_png(const std::string& path, const uint8_t* rgb, int width, int height) {
  configure_libav_logging();
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
  if (!codec)
    throw Error(kPlace, concat(path, ": this FFmpeg build has no PNG encoder; install a full libavcodec"));
  CodecContextPtr context(checked_alloc(avcodec_alloc_context3(codec), "a PNG encoder"));
  context->width = width;
  context->height = height;
  context->pix_fmt = AV_PIX_FMT_RGB24;
  context->time_base = AVRational{1, 1};
  context->thread_count = 1;  // one frame in, its packet out, no frame-threading delay
  if (const int code = avcodec_open2(context.get(), codec, nullptr); code < 0)
    throw Error(kPlace, concat(path, ": cannot open the PNG encoder for ", width, "x", height, " (",
                               libav_error_text(code), ")"));
  FramePtr frame(checked_alloc(av_frame_alloc(), "a frame"));
  frame->format = AV_PIX_FMT_RGB24;
  frame->width = width;
  frame->height = height;
  if (const int code = av_frame_get_buffer(frame.get(), 0); code < 0)
    throw Error(kPlace, concat(path, ": cannot allocate a ", width, "x", height, " frame (",
                               libav_error_text(code), ")"));
  for (int y = 0; y < height; ++y)
    std::memcpy(frame->data[0] + static_cast<ptrdiff_t>(y) * frame->linesize[0],
                rgb + static_cast<size_t>(y) * width * 3, static_cast<size_t>(width) * 3);
  PacketPtr packet(checked_alloc(av_packet_alloc(), "a packet"));
  int code = avcodec_send_frame(context.get(), frame.get());
  if (code >= 0) code = avcodec_receive_packet(context.get(), packet.get());
  if (code < 0) throw Error(kPlace, concat(path, ": PNG encoding failed (", libav_error_text(code), ")"));
  return std::vector<uint8_t>(packet->data, packet->data + packet->size);
}

std::vector<uint8_t> read_whole_file(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error))
    throw Error(kPlace, concat(path, ": no such image file; check the path"));
  std::ifstream stream(path, std::ios::binary | std::ios::ate);
  const std::streamsize size = stream.tellg();
  std::vector<uint8_t> bytes(static_cast<size_t>(std::max<std::streamsize>(size, 0)));
  stream.seekg(0);
  if (!stream.good() || !stream.read(reinterpret_cast<char*>(bytes.data()), size))
    throw Error(kPlace, concat(path, ": cannot read the file; check its permissions"));
  return bytes;
}

// The decoder for the file's signature: PNG and JPEG only, whatever the file name says.
AVCodecID codec_from_signature(const std::string& path, const std::vector<uint8_t>& bytes) {
  static const uint8_t kPng[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (bytes.size() >= sizeof(kPng) && std::memcmp(bytes.data(), kPng, sizeof(kPng)) == 0)
    return AV_CODEC_ID_PNG;
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) return AV_CODEC_ID_MJPEG;
  throw Error(kPlace, concat(path, ": not a PNG or JPEG file; convert the image to PNG or JPEG"));
}

FramePtr decode_image(const std::string& path, const std::vector<uint8_t>& bytes) {
  const AVCodecID id = codec_from_signature(path, bytes);
  const AVCodec* codec = avcodec_find_decoder(id);
  if (!codec)
    throw Error(kPlace, concat(path, ": this FFmpeg build has no ", avcodec_get_name(id),
                               " decoder; install a full libavcodec"));
  CodecContextPtr context(checked_alloc(avcodec_alloc_context3(codec), "a decoder"));
  context->thread_count = 1;
  if (const int code = avcodec_open2(context.get(), codec, nullptr); code < 0)
    throw Error(kPlace,
                concat(path, ": cannot open the ", codec->name, " decoder (", libav_error_text(code), ")"));
  PacketPtr packet(checked_alloc(av_packet_alloc(), "a packet"));
  if (bytes.size() > static_cast<size_t>(INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE))
    throw Error(kPlace, concat(path, ": the file is too large for an image"));
  // av_new_packet adds the zeroed padding decoders may read past the end.
  if (av_new_packet(packet.get(), static_cast<int>(bytes.size())) < 0)
    throw Error(kPlace, concat("out of memory reading ", path));
  std::memcpy(packet->data, bytes.data(), bytes.size());
  FramePtr frame(checked_alloc(av_frame_alloc(), "a frame"));
  int code = avcodec_send_packet(context.get(), packet.get());
  if (code >= 0) code = avcodec_send_packet(context.get(), nullptr);  // end of stream: flush the frame out
  if (code >= 0) code = avcodec_receive_frame(context.get(), frame.get());
  if (code < 0)
    throw Error(kPlace, concat(path, ": cannot decode the ", codec->name, " image (", libav_error_text(code),
                               "); the file is damaged or not a supported image"));
  if (frame->width <= 0 || frame->height <= 0) throw Error(kPlace, concat(path, ": the image has no pixels"));
  return frame;
}

// The JPEG ("yuvj") formats are full-range YUV; swscale wants the plain format plus a range flag.
AVPixelFormat without_jpeg_range(AVPixelFormat format, bool* full_range) {
  switch (format) {
    case AV_PIX_FMT_YUVJ420P:
      *full_range = true;
      return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
      *full_range = true;
      return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
      *full_range = true;
      return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
      *full_range = true;
      return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
      *full_range = true;
      return AV_PIX_FMT_YUV411P;
    default:
      return format;
  }
}

// Interleaved RGB24 of a decoded frame in any pixel format.
std::vector<uint8_t> frame_to_rgb24(const std::string& path, const AVFrame& frame) {
  const int width = frame.width, height = frame.height;
  bool full_range = frame.color_range == AVCOL_RANGE_JPEG;
  const AVPixelFormat source = without_jpeg_range(static_cast<AVPixelFormat>(frame.format), &full_range);
  SwsPtr scaler(sws_getContext(width, height, source, width, height, AV_PIX_FMT_RGB24,
                               SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr,
                               nullptr));
  if (!scaler)
    throw Error(kPlace, concat(path, ": cannot convert its pixel format ", av_get_pix_fmt_name(source),
                               " to RGB; convert the image to 8-bit RGB"));
  const int colorspace = frame.colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT;
  sws_setColorspaceDetails(scaler.get(), sws_getCoefficients(colorspace), full_range ? 1 : 0,
                           sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  uint8_t* target[4] = {rgb.data(), nullptr, nullptr, nullptr};
  const int target_stride[4] = {width * 3, 0, 0, 0};
  if (sws_scale(scaler.get(), frame.data, frame.linesize, 0, height, target, target_stride) != height)
    throw Error(kPlace, concat(path, ": converting its pixels to RGB failed"));
  return rgb;
}

// frame_%05d.png
std::string frame_name(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof(name), "frame_%05lld.png", static_cast<long long>(index));
  return name;
}

// A name frame_name() gives: what an earlier result holds.
bool is_frame_name(const std::string& name) {
  const size_t prefix = 6, suffix = 4;  // "frame_", ".png"
  if (name.size() < prefix + 5 + suffix || name.compare(0, prefix, "frame_") != 0 ||
      name.compare(name.size() - suffix, suffix, ".png") != 0)
    return false;
  return std::all_of(name.begin() + prefix, name.end() - suffix, [](char c) { return c >= '0' && c <= '9'; });
}

// Absolute, without "." or ".." parts or a trailing separator (so "frames/" has the name "frames"), and
// through a symbolic link to a folder: the folder whose place the finished frames take.
std::filesystem::path resolved_folder(const std::string& directory) {
  std::error_code error;
  std::filesystem::path path = std::filesystem::absolute(directory, error);
  if (error) path = directory;
  path = path.lexically_normal();
  if (!path.has_filename() && path != path.root_path()) path = path.parent_path();
  if (std::filesystem::is_symlink(path, error) && std::filesystem::is_directory(path, error)) {
    const std::filesystem::path real = std::filesystem::canonical(path, error);
    if (!error) return real;
  }
  return path;
}

// Whether `target` exists; Error unless it is missing, an empty folder or a folder of frames only (an
// earlier result that finish() may replace). `directory` is the path as given, for the messages.
bool check_frames_target(const std::string& directory, const std::filesystem::path& target) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::symlink_status(target, error);
  if (status.type() == std::filesystem::file_type::not_found) return false;
  if (status.type() != std::filesystem::file_type::directory)
    throw Error(kPlace, concat(directory, ": exists and is not a folder; name a folder for the frames"));
  bool empty = true;
  std::filesystem::directory_iterator entry(target, error), end;
  for (; !error && entry != end; entry.increment(error)) {
    const std::string name = entry->path().filename().string();
    std::error_code ignored;
    if (!is_frame_name(name) || entry->symlink_status(ignored).type() != std::filesystem::file_type::regular)
      throw Error(kPlace, concat(directory, ": holds other files ('", name,
                                 "'); name a new or empty folder for the frames"));
    empty = false;
  }
  if (error)
    throw Error(kPlace,
                concat(directory, ": cannot list the folder (", error.message(), "); check its permissions"));
  // Replacing an earlier result removes its frames.
  if (!empty && ::access(target.c_str(), W_OK | X_OK) != 0)
    throw Error(kPlace, concat(directory, ": holds earlier frames but is not writable (",
                               std::strerror(errno), "); check its permissions or name a new folder"));
  return true;
}

// Puts the finished folder `staging` in the place of the earlier `target` and the earlier one at the
// staging name: in one step where the file system can exchange names, otherwise in three under a
// CleanupHold, so that an interrupt never finds the earlier result moved aside and the new one not in.
void swap_folders(const std::string& directory, const std::string& staging, const std::string& target) {
  const CleanupHold hold;
  if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) return;
  const int code = errno;
  auto fail = [&](int number) {
    return Error(kPlace, concat(directory, ": cannot replace the earlier frames (", std::strerror(number),
                                "); check the permissions of its folder"));
  };
  if (code != EINVAL && code != ENOSYS && code != ENOTSUP) throw fail(code);
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path path(target);
  const std::string aside =
      (path.parent_path() / concat(".", path.filename().string(), ".old-", ::getpid(), "-", counter++))
          .string();
  if (::rename(target.c_str(), aside.c_str()) != 0) throw fail(errno);
  if (::rename(staging.c_str(), target.c_str()) != 0) {
    const int error = errno;
    ::rename(aside.c_str(), target.c_str());
    throw fail(error);
  }
  if (::rename(aside.c_str(), staging.c_str()) != 0) {
    std::error_code ignored;
    std::filesystem::remove_all(aside, ignored);
  }
}

}  // namespace

uint8_t pixel_from_unit(float value) {
  if (std::isnan(value)) {
    log_once(LogLevel::warn, kPlace, "frames hold NaN values; they are written as 0 (black)");
    return 0;
  }
  const float clamped = std::min(std::max(value, -1.0f), 1.0f);
  // The same float operations as torchvision's normalize ((x - low) / (high - low)) then `* 255`.
  return static_cast<uint8_t>((clamped + 1.0f) / 2.0f * 255.0f);
}

Tensor checked_frames(const char* place, const std::string& what, const Tensor& frames) {
  if (!frames.defined() || frames.ndim() != 4 || frames.size(0) != 3)
    throw Error(place, concat(what, ": frames must be [3, n, H, W] (RGB), got ",
                              frames.defined() ? frames.describe() : "an undefined tensor"));
  if (!frames.is_host_accessible())
    throw Error(place,
                concat(what, ": frames ", frames.describe(), " are in device memory; copy them to the host"));
  if (!is_floating(frames.dtype()))
    throw Error(place, concat(what, ": frames must be floating point in [-1, 1], got ", frames.describe()));
  if (frames.dtype() == DType::f32 && frames.is_contiguous()) return frames;
  return frames.to_host(DType::f32);
}

void pack_rgb24(const Tensor& frames, int64_t index, uint8_t* rgb) {
  X2V_ASSERT(frames.dtype() == DType::f32 && frames.is_contiguous() && frames.ndim() == 4, kPlace,
             frames.describe());
  const int64_t count = frames.size(1), pixels = frames.size(2) * frames.size(3);
  X2V_ASSERT(index >= 0 && index < count, kPlace, "frame ", index, " of ", count);
  const float* data = frames.data<float>();
  for (int64_t channel = 0; channel < 3; ++channel) {
    const float* plane = data + (channel * count + index) * pixels;
    for (int64_t pixel = 0; pixel < pixels; ++pixel) rgb[pixel * 3 + channel] = pixel_from_unit(plane[pixel]);
  }
}

void configure_libav_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    // libav's debug level floods stderr with per-packet lines; its info level is detail enough.
    av_log_set_level(log_level() <= LogLevel::debug ? AV_LOG_INFO : AV_LOG_QUIET);
  });
}

std::string libav_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(code, text, sizeof(text)) < 0) return concat("libav error ", code);
  return text;
}

void write_png(const std::string& path, const Tensor& image) {
  if (!image.defined() || image.ndim() != 3)
    throw Error(kPlace, concat(path, ": an image must be [3, H, W], got ",
                               image.defined() ? image.describe() : "an undefined tensor"));
  const Tensor frames = checked_frames(kPlace, path, image.unsqueeze(1));
  const int64_t height = frames.size(2), width = frames.size(3);
  if (height <= 0 || width <= 0 || height > 65535 || width > 65535)
    throw Error(kPlace, concat(path, ": cannot write a ", width, "x", height, " PNG"));
  std::vector<uint8_t> rgb(static_cast<size_t>(width * height * 3));
  pack_rgb24(frames, 0, rgb.data());
  write_file_atomically(kPlace, path,
                        encode_png(path, rgb.data(), static_cast<int>(width), static_cast<int>(height)));
}

void check_frames_folder(const std::string& directory) {
  if (directory.empty()) throw Error(kPlace, "the frames folder is an empty path; name a folder");
  const std::filesystem::path target = resolved_folder(directory);
  const std::filesystem::path parent = target.parent_path();
  std::error_code error;
  if (!std::filesystem::is_directory(parent, error))
    throw Error(kPlace,
                concat(directory, ": the folder ", parent.string(), " does not exist; create it first"));
  check_frames_target(directory, target);
  if (::access(parent.c_str(), W_OK | X_OK) != 0)
    throw Error(kPlace, concat(directory, ": the folder ", parent.string(), " is not writable (",
                               std::strerror(errno), "); choose another place for the frames"));
}

PngFrameWriter::PngFrameWriter(const std::string& directory) : directory_(directory) {
  check_frames_folder(directory);
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path target = resolved_folder(directory);
  target_ = target.string();
  staging_ =
      (target.parent_path() / concat(".", target.filename().string(), ".tmp-", ::getpid(), "-", counter++))
          .string();
  // Registered before it exists: an interrupt between the two would otherwise leave it behind.
  register_temporary(staging_);
  if (::mkdir(staging_.c_str(), 0777) != 0) {
    const int code = errno;
    unregister_temporary(staging_);
    throw Error(kPlace, concat(directory, ": cannot create the staging folder ", staging_, " (",
                               std::strerror(code), "); check the permissions of its folder"));
  }
}

PngFrameWriter::~PngFrameWriter() {
  if (finished_) return;
  std::error_code ignored;
  std::filesystem::remove_all(staging_, ignored);
  unregister_temporary(staging_);
}

std::string PngFrameWriter::frame_path(int64_t index) const {
  return (std::filesystem::path(directory_) / frame_name(index)).string();
}

void PngFrameWriter::write(const Tensor& frames) {
  X2V_ASSERT(!finished_, kPlace, "write() after finish() on ", directory_);
  const Tensor checked = checked_frames(kPlace, directory_, frames);
  const int64_t height = checked.size(2), width = checked.size(3);
  if (height <= 0 || width <= 0 || height > 65535 || width > 65535)
    throw Error(kPlace, concat(directory_, ": cannot write ", width, "x", height, " PNG frames"));
  std::vector<uint8_t> rgb(static_cast<size_t>(width * height * 3));
  for (int64_t index = 0; index < checked.size(1); ++index) {
    pack_rgb24(checked, index, rgb.data());
    const std::string path = (std::filesystem::path(staging_) / frame_name(written_)).string();
    write_file_atomically(kPlace, path,
                          encode_png(path, rgb.data(), static_cast<int>(width), static_cast<int>(height)));
    ++written_;
  }
}

void PngFrameWriter::finish() {
  X2V_ASSERT(!finished_, kPlace, "finish() twice on ", directory_);
  // Checked again: the folder may have changed during the run.
  if (!check_frames_target(directory_, target_)) {
    if (::rename(staging_.c_str(), target_.c_str()) != 0)
      throw Error(kPlace, concat(directory_, ": cannot move the finished frames into place (",
                                 std::strerror(errno), "); check the permissions of its folder"));
    finished_ = true;
    unregister_temporary(staging_);
    return;
  }
  swap_folders(directory_, staging_, target_);
  finished_ = true;
  // The earlier result is now at the staging name, still registered.
  std::error_code error;
  std::filesystem::remove_all(staging_, error);
  if (error)
    log_warn(kPlace, directory_, ": the earlier frames, moved aside to ", staging_,
             ", could not be removed (", error.message(), "); remove that folder by hand");
  unregister_temporary(staging_);
}

Tensor read_image(const std::string& path) {
  configure_libav_logging();
  const std::vector<uint8_t> bytes = read_whole_file(path);
  const FramePtr frame = decode_image(path, bytes);
  const std::vector<uint8_t> rgb = frame_to_rgb24(path, *frame);
  const int64_t height = frame->height, width = frame->width, pixels = height * width;
  Tensor image = Tensor::host({3, height, width}, DType::f32);
  float* data = image.data<float>();
  for (int64_t channel = 0; channel < 3; ++channel)
    for (int64_t pixel = 0; pixel < pixels; ++pixel) {
      const float unit = static_cast<float>(rgb[pixel * 3 + channel]) / 255.0f;
      data[channel * pixels + pixel] = (unit - 0.5f) / 0.5f;
    }
  return image;
}

}  // namespace x2v::io
