// One video input, read frame by frame: which inputs are videos, and the
// sampled frames of one, in order, each as RGB pixels ready for the
// per-image step's crop (image_step.h: prepare_frame). Frames come from
// OpenCV's cv::VideoCapture (src/video/), so that each is the one a Python
// loop over cv2.VideoCapture(path, cv2.CAP_FFMPEG) reads at that index.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/decode.h"
#include "image/rgb_image.h"
#include "run/record.h"
#include "video/frame_plan.h"
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

// How a video is read, decided once it is open. A file with a frame table
// is planned: the frames to take are known up front, and the reading is
// split into chunks (frame_plan.h) that threads read side by side; a stream
// (or a file whose packets are not frames) is read sequentially.
struct VideoPlan {
  std::optional<FrameTable> table;      // a file's
  std::unique_ptr<VideoReader> reader;  // open at the first frame
  FramePlan frames;                     // with a table
  std::vector<VideoChunk> chunks;       // empty: read_video reads it
};

// Opens `source` and plans its reading in chunks of about `chunk_frames`
// taken frames (those that may wait for delivery at once).
// Throws Error with a per-input kind when the video cannot be opened, its
// frames are above twice --max-pixels (before any is decoded), or --every
// keyframe is asked of a stream.
VideoPlan plan_video(const std::string& source, const VideoJob& job,
                     const DecodeOptions& decode, std::size_t chunk_frames);

// Reads a video without chunks from its first frame, passing each frame
// `job.sample` takes to `emit` in order. A frame's time is OpenCV's
// CAP_PROP_POS_MSEC; where OpenCV lost it (the frames drained at the end of
// a file), the container's, or for a stream the previous frame's time plus
// the last interval.
VideoEnd read_video(const std::string& source, const VideoJob& job,
                    VideoPlan& plan,
                    const std::function<void(VideoFrame&&)>& emit,
                    const std::atomic<bool>& stop);

// Reads chunk `chunk` of a planned video: seeks to its start (or reads from
// the first frame), checks every frame's time against the table, and
// passes its taken frames to `emit` with their ordinal. Stops early when
// `keep_going` says so. Returns where and why the video stopped, if it did
// inside this chunk. Safe to call for different chunks on different
// threads.
std::optional<RecordError> read_chunk(
    const std::string& source, const VideoJob& job, VideoPlan& plan,
    std::size_t chunk,
    const std::function<void(VideoFrame&&, std::uint64_t)>& emit,
    const std::function<bool()>& keep_going);

// The end of a planned video whose chunks have run: `failure` (the first
// chunk's that stopped), else the table's own (a truncated file).
VideoEnd planned_end(const std::string& source, const VideoPlan& plan,
                     const std::optional<RecordError>& failure);

}  // namespace resnet_cli
