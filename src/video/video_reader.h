// Reading a video's frames: OpenCV's videoio with its FFmpeg backend
// (cv::VideoCapture(source, cv::CAP_FFMPEG)), so that a frame is the one a
// Python loop over cv2.VideoCapture gets, pixel for pixel. OpenCV is linked
// into src/video/opencv/ only, which is built as a module mapped on the
// first video (RESNET_CLI_MODEL_MODULE=ON: libresnet_cli_video.so; OpenCV
// with FFmpeg, GStreamer and GDAL maps some 240 libraries, half a second)
// or linked in; nothing else includes OpenCV's headers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/rgb_image.h"

namespace resnet_cli {

struct VideoOpenOptions {
  int open_timeout_ms = 30'000;  // CAP_PROP_OPEN_TIMEOUT_MSEC
  int read_timeout_ms = 30'000;  // CAP_PROP_READ_TIMEOUT_MSEC, per grab()
};

// What OpenCV says of the video once open.
struct VideoProperties {
  int width = 0;   // frame size, after OpenCV's rotation by the stream's
  int height = 0;  // display matrix (CAP_PROP_ORIENTATION_AUTO)
  double fps = 0;  // CAP_PROP_FPS: FFmpeg's guess of the frame rate
  // CAP_PROP_FRAME_COUNT: the container's count, or duration x fps; 0 when
  // unknown (a live stream).
  std::int64_t frame_count = 0;
};

// One open video. Not thread-safe: one thread reads it.
class VideoReader {
 public:
  virtual ~VideoReader() = default;
  virtual const VideoProperties& properties() const = 0;
  // Decodes the next frame without converting it (VideoCapture::grab).
  // False when there is none: the end, data that stops, or a read that took
  // longer than the read timeout.
  virtual bool grab() = 0;
  // CAP_PROP_POS_MSEC after the last grab(): the frame's presentation time,
  // milliseconds from the stream's start. OpenCV 4.6 reports 0 for the frames
  // FFmpeg hands back while draining at the end of a file (it loses their
  // timestamps); callers tell those apart (video_frames.h).
  virtual double position_ms() const = 0;
  // The grabbed frame, OpenCV's BGR with its channels swapped to RGB.
  // Throws Error(kDecode) naming the source when OpenCV gives no 8-bit
  // three-channel frame.
  virtual RgbImage retrieve() = 0;
  // set(CAP_PROP_POS_FRAMES, frame): OpenCV seeks back to a keyframe before
  // about frame - 16 (by its frame-rate estimate) and decodes forward, so
  // the next grab() returns a frame near `frame`, never later than
  // OpenCV's estimate. False when OpenCV refuses.
  virtual bool seek_frame(std::int64_t frame) = 0;
  // Milliseconds the last grab() took (a stream that stalled took the read
  // timeout).
  virtual double last_grab_ms() const = 0;
  // The last error line FFmpeg logged while this reader was used on the
  // calling thread (FFmpeg's messages never reach stderr); "" if none.
  virtual std::string backend_message() const = 0;
};

// A file's frames as its container lists them, read by demuxing it with
// FFmpeg's libavformat (no decoding): presentation times computed as
// OpenCV computes CAP_PROP_POS_MSEC ((pts - stream start) x time base),
// in presentation order, and which are keyframes.
struct FrameTable {
  std::vector<double> times_ms;
  std::vector<std::uint8_t> keyframes;  // 1: a keyframe (random access)
  // False when demuxing stopped at damaged or missing data before the end
  // (a truncated file): the table lists the frames before it.
  bool complete = true;
  std::string stop_reason;  // FFmpeg's message, when !complete
};

// Opens `source`, a file path or a stream URL. Throws Error naming it:
// unsupported_format when FFmpeg finds no video in a file (with FFmpeg's
// reason when it gave one), io when a stream cannot be opened (refused,
// timed out, HTTP error), model when the video module cannot be loaded.
std::unique_ptr<VideoReader> open_video(const std::string& source,
                                        const VideoOpenOptions& options);

// The frame table of the file `path`, or nullopt when its packets do not map
// one to one onto frames (a packet without a timestamp, two with the same
// one, no stream start time), so that frames must be counted as they are
// decoded. Throws as open_video.
std::optional<FrameTable> read_frame_table(const std::string& path);

// Sets, unless the user has, the environment OpenCV's FFmpeg backend reads
// when it opens a video: one decoding thread per video
// (OPENCV_FFMPEG_THREADS=1; resnet-cli decodes videos and their parts on
// its own threads), and without OPENCV_FFMPEG_LOGLEVEL and
// OPENCV_FFMPEG_DEBUG, with which OpenCV prints FFmpeg's messages on stdout
// instead of handing them to resnet-cli's error records. Call it from main()
// before any thread starts: setenv is not safe while other threads read the
// environment.
void prepare_video_environment();

}  // namespace resnet_cli
