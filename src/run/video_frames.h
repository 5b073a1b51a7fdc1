// One video input, read frame by frame: which inputs are videos, and the
// sampled frames of one, in order, each as RGB pixels ready for the
// per-image step's crop (image_step.h: prepare_frame). Frames come from
// OpenCV's cv::VideoCapture (src/video/), so that each is the one a Python
// loop over cv2.VideoCapture(path, cv2.CAP_FFMPEG) reads at that index.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "image/decode.h"
#include "image/rgb_image.h"
#include "run/record.h"
#include "video/sampling.h"
#include "video/video_reader.h"

namespace resnet_cli {

// What classify does with videos (--every, --start, --end,
// --request-timeout, --video-summary).
struct VideoJob {
  SampleSpec sample;
  VideoOpenOptions open;
  bool summary = false;  // the closing record's mean, top-k and leads
};

// Whether `path` is read as a video: a stream URL, a file whose first bytes
// are a video container's, or, when they are no image format's either, a
// file with a video extension (so that a text file named .avi is reported
// as a video FFmpeg cannot read). "-" is an image. Throws the per-input
// errors of reading a file (not_found, empty_file, ...).
bool is_video_input(const std::string& path);

struct VideoFrame {
  std::int64_t index = 0;  // frames from the video's first, 0-based
  double time = 0;         // seconds
  RgbImage image;          // RGB, OpenCV's BGR frame with channels swapped
};

// How reading a video ended.
struct VideoEnd {
  std::int64_t frames_read = 0;  // decoded, sampled or not
  double end = 0;                // seconds: where the last frame read ends
  // The video stopped early (truncated, damaged, a stream that stalled):
  // the frames before were emitted; this says where and why.
  std::optional<RecordError> error;
  bool interrupted = false;  // `stop` was set: the video is not finished
};

// Reads `source` from its first frame, passing each frame `job.sample`
// takes to `emit` in order. A frame's time is OpenCV's CAP_PROP_POS_MSEC;
// where OpenCV lost it (the frames drained at the end of a file), the
// container's (FrameTable) for a file, else the previous frame's time plus
// the last interval. Throws Error with a per-input kind when the video
// cannot be opened or its frames are above twice --max-pixels (before any
// is decoded).
VideoEnd read_video(const std::string& source, const VideoJob& job,
                    const DecodeOptions& decode,
                    const std::function<void(VideoFrame&&)>& emit,
                    const std::atomic<bool>& stop);

}  // namespace resnet_cli
