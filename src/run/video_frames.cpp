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

VideoPlan plan_video(const std::string& source, const VideoJob& job,
                     const DecodeOptions& decode, std::size_t chunk_frames) {
  VideoPlan plan;
  if (!is_stream_url(source)) plan.table = read_frame_table(source);
  if (job.sample.mode == SampleMode::kKeyframes && !plan.table) {
    throw Error(ErrorKind::kUnsupportedFormat,
                source +
                    ": --every keyframe needs the container's list of "
                    "frames, which a stream (or this file) does not give");
  }
  plan.reader = open_video(source, job.open);
  const VideoProperties& properties = plan.reader->properties();
  check_pixel_count(
      {static_cast<std::uint64_t>(std::max(properties.width, 0)),
       static_cast<std::uint64_t>(std::max(properties.height, 0))},
      source, decode.max_pixels);
  if (!plan.table || plan.table->times_ms.empty()) return plan;
  plan.frames = plan_frames(*plan.table, job.sample);
  // A chunk opens the video and seeks: worth it for 256 frames and more.
  plan.chunks = plan_chunks(plan.frames, plan.table->keyframes, 16 * kSeekLead,
                            chunk_frames);
  return plan;
}

namespace {

std::string stopped_message(const std::string& source, std::int64_t frames,
                            double seconds, const std::string& why,
                            const std::string& reason) {
  return source + ": the video stops after " + std::to_string(frames) +
         " frames (" + seconds_text(seconds) +
         "), truncated or damaged: " + why +
         (reason.empty() || why.find(reason) != std::string::npos
              ? ""
              : " (FFmpeg: " + reason + ")");
}

double rounded_seconds(double milliseconds) {
  return static_cast<double>(microseconds_from_ms(milliseconds)) / 1e6;
}

// Seconds where the first `frames` frames of the table end: the last one's
// time plus the interval before it.
double end_of_frames(const FrameTable& table, std::int64_t frames) {
  if (frames <= 0) return 0;
  const auto& times = table.times_ms;
  const double last = times[static_cast<std::size_t>(frames - 1)];
  const double before =
      frames > 1 ? times[static_cast<std::size_t>(frames - 2)] : last;
  return rounded_seconds(last + (last - before));
}

}  // namespace

VideoEnd read_video(const std::string& source, const VideoJob& job,
                    VideoPlan& plan,
                    const std::function<void(VideoFrame&&)>& emit,
                    const std::atomic<bool>& stop) {
  const std::optional<FrameTable>& table = plan.table;
  VideoReader& reader = *plan.reader;
  const VideoProperties& properties = reader.properties();
  FrameSampler sampler(job.sample);
  FrameClock clock(table, properties.fps);
  VideoEnd end;
  bool stalled = false;
  bool at_end_option = false;
  const double stall_ms = kStalledShare * job.open.read_timeout_ms;
  std::int64_t index = 0;
  for (; !stop; ++index) {
    const bool grabbed = reader.grab();
    stalled = stalled || reader.last_grab_ms() >= stall_ms;
    if (!grabbed) break;
    const double time_ms = clock.time_ms(index, reader.position_ms());
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
      emit(VideoFrame{index, rounded_seconds(time_ms), reader.retrieve()});
    }
  }
  end.frames_read = index;
  end.interrupted = stop;
  if (!at_end_option) end.end = index > 0 ? clock.end_ms() / 1000 : 0;
  end.end = rounded_seconds(end.end * 1000);  // a sum: 3.0000000000000004
  if (stalled) {
    end.error = RecordError{
        ErrorKind::kIo, source + ": the stream stopped sending after " +
                            std::to_string(index) + " frames (" +
                            seconds_text(end.end) + "): nothing came for " +
                            std::to_string(job.open.read_timeout_ms / 1000) +
                            " s (--request-timeout)"};
  } else if (!at_end_option && !end.interrupted) {
    if (const auto why = stopped_early(table, properties, index)) {
      end.error = RecordError{ErrorKind::kDecode,
                              stopped_message(source, index, end.end, *why,
                                              reader.backend_message())};
    }
  }
  return end;
}

namespace {

// Puts `reader` where its next grab() returns frame `start`: OpenCV's seek,
// checked by the frame's time and read forward when it lands early. OpenCV
// places a seek by the average frame rate, which misses for a variable one:
// when it lands late, seeks further back, and in the end reads from the
// first frame. Returns false when the video ends first; `grabbed_start`:
// frame `start` is grabbed already.
bool position_at(const std::string& source, const VideoJob& job,
                 const FrameTable& table, std::int64_t start,
                 std::unique_ptr<VideoReader>& reader, bool& grabbed_start) {
  grabbed_start = false;
  if (start == 0) return true;
  const double target = table.times_ms[static_cast<std::size_t>(start)];
  for (const std::int64_t back : {0, 64, 512, 4096}) {
    if (back > 0 && start - back < kSeekLead) break;
    if (!reader->seek_frame(start - back)) break;
    while (reader->grab()) {
      const double time = reader->position_ms();
      if (time == target) {
        grabbed_start = true;
        return true;
      }
      if (time > target) break;
    }
    spdlog::debug("{}: OpenCV's seek to frame {} landed past frame {}", source,
                  start - back, start);
  }
  reader = open_video(source, job.open);
  for (std::int64_t index = 0; index < start; ++index) {
    if (!reader->grab()) return false;
  }
  return true;
}

}  // namespace

std::optional<RecordError> read_chunk(
    const std::string& source, const VideoJob& job, VideoPlan& plan,
    std::size_t chunk_index,
    const std::function<void(VideoFrame&&, std::uint64_t)>& emit,
    const std::function<bool()>& keep_going) {
  const VideoChunk& chunk = plan.chunks[chunk_index];
  const FrameTable& table = *plan.table;
  // The plan's reader is at the first frame: the chunk that starts there
  // takes it (one chunk does).
  std::unique_ptr<VideoReader> reader = chunk.start == 0 && plan.reader
                                            ? std::move(plan.reader)
                                            : open_video(source, job.open);
  bool have_frame = false;
  const auto stopped = [&](std::int64_t frames) {
    const std::optional<std::string> why =
        stopped_early(plan.table, reader->properties(), frames);
    return RecordError{
        ErrorKind::kDecode,
        stopped_message(source, frames, end_of_frames(table, frames),
                        why ? *why : "FFmpeg decoded no more frames",
                        reader->backend_message())};
  };
  if (!position_at(source, job, table, chunk.start, reader, have_frame)) {
    return stopped(chunk.start);
  }
  std::uint64_t ordinal = chunk.first_ordinal;
  auto next_taken = chunk.taken.begin();
  for (std::int64_t index = chunk.start;
       next_taken != chunk.taken.end() && keep_going(); ++index) {
    if (!have_frame && !reader->grab()) return stopped(index);
    have_frame = false;
    const double time = table.times_ms[static_cast<std::size_t>(index)];
    const double reported = reader->position_ms();
    if (reported != time && (index == 0 || reported != 0)) {
      return RecordError{
          ErrorKind::kDecode,
          source + ": frame " + std::to_string(index) + " came at " +
              std::to_string(reported) + " ms, not at the container's " +
              std::to_string(time) +
              " ms; its packets do not map onto frames one to one"};
    }
    if (index == *next_taken) {
      emit(VideoFrame{index, rounded_seconds(time), reader->retrieve()},
           ordinal++);
      ++next_taken;
    }
  }
  return std::nullopt;
}

VideoEnd planned_end(const std::string& source, const VideoPlan& plan,
                     const std::optional<RecordError>& failure) {
  VideoEnd end;
  end.frames_read = plan.frames.frames_read;
  end.end = rounded_seconds(plan.frames.end_ms);
  end.error = failure;
  const FrameTable& table = *plan.table;
  if (!end.error && !table.complete &&
      plan.frames.frames_read ==
          static_cast<std::int64_t>(table.times_ms.size())) {
    end.error = RecordError{ErrorKind::kDecode,
                            stopped_message(source, plan.frames.frames_read,
                                            end.end, table.stop_reason, "")};
  }
  return end;
}

}  // namespace resnet_cli
