// VideoReader on cv::VideoCapture with the FFmpeg backend.
#include <chrono>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "base/error.h"
#include "video/opencv/backend_log.h"
#include "video/video_entry.h"
#include "video/video_source.h"

namespace resnet_cli {

namespace {

std::string with_reason(const std::string& text) {
  const std::string reason = detail::last_backend_message();
  return reason.empty() ? text : text + ": " + reason;
}

class OpenCvReader final : public VideoReader {
 public:
  OpenCvReader(const std::string& source, const VideoOpenOptions& options)
      : source_(source) {
    detail::capture_backend_messages();
    detail::clear_backend_message();
    const std::vector<int> parameters = {
        cv::CAP_PROP_OPEN_TIMEOUT_MSEC, options.open_timeout_ms,
        cv::CAP_PROP_READ_TIMEOUT_MSEC, options.read_timeout_ms};
    bool opened = false;
    try {
      opened = capture_.open(source, cv::CAP_FFMPEG, parameters);
    } catch (const cv::Exception& e) {
      throw Error(ErrorKind::kDecode, source + ": OpenCV: " + e.what());
    }
    if (!opened) {
      if (is_stream_url(source)) {
        throw Error(ErrorKind::kIo,
                    with_reason(source + ": cannot open the stream"));
      }
      throw Error(ErrorKind::kUnsupportedFormat,
                  with_reason(source + ": not a video FFmpeg reads"));
    }
    properties_.width =
        static_cast<int>(capture_.get(cv::CAP_PROP_FRAME_WIDTH));
    properties_.height =
        static_cast<int>(capture_.get(cv::CAP_PROP_FRAME_HEIGHT));
    properties_.fps = capture_.get(cv::CAP_PROP_FPS);
    const double count = capture_.get(cv::CAP_PROP_FRAME_COUNT);
    properties_.frame_count =
        count > 0 && count < 1e15 ? static_cast<std::int64_t>(count) : 0;
  }

  const VideoProperties& properties() const override { return properties_; }

  bool grab() override {
    const auto start = std::chrono::steady_clock::now();
    bool grabbed = false;
    try {
      grabbed = capture_.grab();
    } catch (const cv::Exception& e) {
      throw Error(ErrorKind::kDecode, source_ + ": OpenCV: " + e.what());
    }
    last_grab_ms_ = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    return grabbed;
  }

  double position_ms() const override {
    return capture_.get(cv::CAP_PROP_POS_MSEC);
  }

  RgbImage retrieve() override {
    cv::Mat bgr;
    bool retrieved = false;
    try {
      retrieved = capture_.retrieve(bgr);
    } catch (const cv::Exception& e) {
      throw Error(ErrorKind::kDecode, source_ + ": OpenCV: " + e.what());
    }
    if (!retrieved || bgr.empty() || bgr.type() != CV_8UC3) {
      throw Error(ErrorKind::kDecode,
                  with_reason(source_ + ": OpenCV gave no 8-bit BGR frame"));
    }
    RgbImage image;
    image.width = bgr.cols;
    image.height = bgr.rows;
    image.pixels.resize(static_cast<std::size_t>(bgr.cols) * bgr.rows * 3);
    for (int y = 0; y < bgr.rows; ++y) {
      const std::uint8_t* in = bgr.ptr<std::uint8_t>(y);
      std::uint8_t* out = image.row(y);
      for (int x = 0; x < bgr.cols; ++x, in += 3, out += 3) {
        out[0] = in[2];
        out[1] = in[1];
        out[2] = in[0];
      }
    }
    return image;
  }

  bool seek_frame(std::int64_t frame) override {
    try {
      return capture_.set(cv::CAP_PROP_POS_FRAMES, static_cast<double>(frame));
    } catch (const cv::Exception& e) {
      throw Error(ErrorKind::kDecode, source_ + ": OpenCV: " + e.what());
    }
  }

  double last_grab_ms() const override { return last_grab_ms_; }

  std::string backend_message() const override {
    return detail::last_backend_message();
  }

 private:
  std::string source_;
  cv::VideoCapture capture_;
  VideoProperties properties_;
  double last_grab_ms_ = 0;
};

}  // namespace

}  // namespace resnet_cli

extern "C" void resnet_cli_video_open(
    const std::string* source, const resnet_cli::VideoOpenOptions* options,
    std::unique_ptr<resnet_cli::VideoReader>* reader) {
  *reader = std::make_unique<resnet_cli::OpenCvReader>(*source, *options);
}

extern "C" int resnet_cli_video_abi() { return RESNET_CLI_VIDEO_ABI; }
