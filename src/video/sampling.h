// Which frames of a video are classified: --every (a time interval, a frame
// count, or the keyframes), from --start to --end. The rule is stated in
// whole microseconds so that a frame exactly on a boundary is decided the
// same way here and in a Python loop over cv2.VideoCapture (README: Video).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "base/enum_names.h"

namespace resnet_cli {

enum class SampleMode { kTime, kFrames, kKeyframes };

struct SampleSpec {
  SampleMode mode = SampleMode::kTime;
  std::int64_t interval_us = 1'000'000;  // kTime: microseconds, > 0
  std::int64_t interval_frames = 1;      // kFrames: > 0
  std::optional<std::int64_t> start_us;  // --start; none: the first frame
  std::optional<std::int64_t> end_us;    // --end (exclusive); none: the end
};

// --every: "1s", "0.5s", "250ms" (a time), "10f" (every 10th frame), or
// "keyframe". Throws Error(kUsage) naming the value.
SampleSpec parse_every(std::string_view text);

// --start / --end: seconds ("90", "12.5", "12.5s") or [HH:]MM:SS[.fff], as
// microseconds. Throws Error(kUsage) naming `option` and the value.
std::int64_t parse_video_time(std::string_view text, std::string_view option);

// Milliseconds as OpenCV's CAP_PROP_POS_MSEC gives them, to whole
// microseconds (rounded half away from zero).
std::int64_t microseconds_from_ms(double milliseconds);

// Decides frame after frame, in presentation order. With a time interval
// I from the anchor S (--start, or the first frame's time without it), a
// frame at time t is taken when floor((t - S) / I) is above that of the
// frame before it: each multiple of I takes the first frame at or after
// it, and a frame that spans several multiples is taken once. With a frame
// interval N, the first frame at or after --start and every Nth after it
// are taken; with keyframes, every keyframe from --start.
class FrameSampler {
 public:
  enum class Verdict { kSkip, kTake, kEnd };

  explicit FrameSampler(const SampleSpec& spec) : spec_(spec) {}

  // `index` counts every frame from the video's first (0), `time_us` is
  // its presentation time. kEnd: at or past --end; no later frame is taken.
  Verdict next(std::int64_t index, std::int64_t time_us, bool keyframe);

 private:
  SampleSpec spec_;
  bool started_ = false;
  std::int64_t anchor_us_ = 0;    // kTime: S
  std::int64_t last_bucket_ = 0;  // kTime: floor((t - S) / I) of the last frame
  std::int64_t first_index_ = 0;  // kFrames: the first frame at --start
};

}  // namespace resnet_cli
