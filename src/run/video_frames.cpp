#include "run/video_frames.h"

#include <spdlog/spdlog.h>

#include <cmath>

#include "base/error.h"
#include "base/file_util.h"
#include "image/image_format.h"
#include "video/video_source.h"

namespace resnet_cli {

namespace {

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", seconds);
  return text;
}

// A grab that took this share of the read timeout waited for data that did
// not come.
constexpr double kStalledShare = 0.9;

// Times of the frames read so far, and the rule for one OpenCV lost.
class FrameClock {
 public:
  FrameClock(const std::optional<FrameTable>& table, double fps)
      : table_(table), fps_(fps) {}

  // Milliseconds of frame `index`, whose CAP_PROP_POS_MSEC is `reported`.
  double time_ms(std::int64_t index, double reported) {
    double time = reported;
    if (index > 0 && reported == 0) {  // OpenCV has no timestamp for it
      if (table_ &&
          index < static_cast<std::int64_t>(table_->times_ms.size())) {
        time = table_->times_ms[static_cast<std::size_t>(index)];
      } else {
        time = last_ + (interval_ > 0 ? interval_ : fps_ > 0 ? 1000 / fps_ : 0);
      }
    }
    if (index > 0) interval_ = time - last_;
    last_ = time;
    return time;
  }

  // Where the last frame ends: its time plus the interval before it (a
  // variable frame rate's local one), or one frame at the frame rate.
  double end_ms() const {
    return last_ + (interval_ > 0 ? interval_ : fps_ > 0 ? 1000 / fps_ : 0);
  }

 private:
  const std::optional<FrameTable>& table_;
  double fps_;
  double last_ = 0;
  double interval_ = 0;
};

bool is_keyframe(const std::optional<FrameTable>& table, std::int64_t index) {
  return table && index < static_cast<std::int64_t>(table->keyframes.size()) &&
         table->keyframes[static_cast<std::size_t>(index)] != 0;
}

// Whether the video ended before the frames its container promised: a
// frame table that stops early or lists more frames than were decoded, or
// (a stream) fewer frames than OpenCV's count by more than 1%.
std::optional<std::string> stopped_early(const std::optional<FrameTable>& table,
                                         const VideoProperties& properties,
                                         std::int64_t frames_read) {
  if (table) {
    const auto listed = static_cast<std::int64_t>(table->times_ms.size());
    if (!table->complete) return table->stop_reason;
    if (frames_read < listed) {
      return "FFmpeg decoded " + std::to_string(frames_read) + " of the " +
             std::to_string(listed) + " frames the container holds";
    }
    return std::nullopt;
  }
  const std::int64_t expected = properties.frame_count;
  if (expected > 0 &&
      frames_read + std::max<std::int64_t>(1, expected / 100) < expected) {
    return "about " + std::to_string(expected) + " frames were expected";
  }
  return std::nullopt;
}

}  // namespace

bool is_video_input(const std::string& path) {
  if (is_stream_url(path)) return true;
  if (path == "-") return false;
  const std::vector<std::uint8_t> head = read_file_head(path, 512);
  if (looks_like_video_container(head.data(), head.size())) return true;
  if (sniff_image_format(head.data(), head.size()) ||
      unread_image_format(head.data(), head.size())) {
    return false;
  }
  return has_video_extension(path);
}

VideoEnd read_video(const std::string& source, const VideoJob& job,
                    const DecodeOptions& decode,
                    const std::function<void(VideoFrame&&)>& emit,
                    const std::atomic<bool>& stop) {
  const bool stream = is_stream_url(source);
  const std::optional<FrameTable> table =
      stream ? std::nullopt : read_frame_table(source);
  if (job.sample.mode == SampleMode::kKeyframes && !table) {
    throw Error(ErrorKind::kUnsupportedFormat,
                source +
                    ": --every keyframe needs the container's list of "
                    "frames, which a stream (or this file) does not give");
  }
  const std::unique_ptr<VideoReader> reader = open_video(source, job.open);
  const VideoProperties& properties = reader->properties();
  check_pixel_count(
      {static_cast<std::uint64_t>(std::max(properties.width, 0)),
       static_cast<std::uint64_t>(std::max(properties.height, 0))},
      source, decode.max_pixels);
  FrameSampler sampler(job.sample);
  FrameClock clock(table, properties.fps);
  VideoEnd end;
  bool stalled = false;
  bool at_end_option = false;
  std::int64_t index = 0;
  for (; !stop; ++index) {
    if (!reader->grab()) {
      stalled = stalled || reader->last_grab_ms() >=
                               kStalledShare * job.open.read_timeout_ms;
      break;
    }
    stalled = stalled || reader->last_grab_ms() >=
                             kStalledShare * job.open.read_timeout_ms;
    const double time_ms = clock.time_ms(index, reader->position_ms());
    const FrameSampler::Verdict verdict = sampler.next(
        index, microseconds_from_ms(time_ms), is_keyframe(table, index));
    if (verdict == FrameSampler::Verdict::kEnd) {
      at_end_option = true;
      end.end = std::min(time_ms, *job.sample.end_us / 1000.0) / 1000;
      break;
    }
    if (verdict == FrameSampler::Verdict::kTake) {
      // Whole microseconds, as the sampler decides: 1.4, not
      // 1.4000000000000001.
      emit(VideoFrame{index,
                      static_cast<double>(microseconds_from_ms(time_ms)) / 1e6,
                      reader->retrieve()});
    }
  }
  end.frames_read = index;
  end.interrupted = stop;
  if (!at_end_option) end.end = index > 0 ? clock.end_ms() / 1000 : 0;
  end.end =
      std::round(end.end * 1e6) / 1e6;  // a sum of doubles: 3.0000000000000004
  if (stalled) {
    end.error = RecordError{
        ErrorKind::kIo, source + ": the stream stopped sending after " +
                            std::to_string(index) + " frames (" +
                            seconds_text(end.end) + "): nothing came for " +
                            std::to_string(job.open.read_timeout_ms / 1000) +
                            " s (--request-timeout)"};
  } else if (!at_end_option && !end.interrupted) {
    if (const auto why = stopped_early(table, properties, index)) {
      const std::string reason = reader->backend_message();
      end.error = RecordError{
          ErrorKind::kDecode,
          source + ": the video stops after " + std::to_string(index) +
              " frames (" + seconds_text(end.end) +
              "), truncated or damaged: " + *why +
              (reason.empty() || why->find(reason) != std::string::npos
                   ? ""
                   : " (FFmpeg: " + reason + ")")};
    }
  }
  return end;
}

}  // namespace resnet_cli
