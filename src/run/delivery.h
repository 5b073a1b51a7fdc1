// Completions of the pipeline's work, and their delivery to the caller:
// in input order (a video's frames in order, then its closing record), or
// as they finish. Internal to run/pipeline.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "run/image_step.h"
#include "run/pipeline.h"
#include "run/video_frames.h"
#include "run/video_summary.h"
#include "run/work_queue.h"

namespace resnet_cli::detail {

using Clock = std::chrono::steady_clock;

struct Completion {
  // kRecord: a photo's record or a video frame's; kVideoEnd: a video's end,
  // whose closing record is made when it is delivered.
  enum Kind { kRecord, kVideoEnd, kEnd, kFatal } kind = kRecord;
  std::uint64_t sequence = 0;  // kEnd: the number of inputs
  // A frame's place among its video's taken frames; kVideoEnd: the frames
  // delivered before the video's end (those in order before a failure).
  std::uint64_t sub = 0;
  std::uint64_t produced = 0;  // kVideoEnd: frames handed to the model
  Record record;               // kVideoEnd: its path
  std::vector<float> logits;   // a frame's, for the video's summary
  VideoEnd video_end;          // kVideoEnd
};

// Adds up seconds from several threads.
class StageClock {
 public:
  void add(Clock::duration elapsed) {
    nanoseconds_ +=
        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
  }
  void add(double seconds) {
    nanoseconds_ += static_cast<std::int64_t>(seconds * 1e9);
  }
  double seconds() const {
    return static_cast<double>(nanoseconds_.load()) * 1e-9;
  }

 private:
  std::atomic<std::int64_t> nanoseconds_{0};
};

// Each video in flight's window of frames (work_queue.h), by input.
class FrameWindows {
 public:
  explicit FrameWindows(std::size_t size) : size_(size) {}
  std::size_t size() const { return size_; }
  std::shared_ptr<OrdinalWindow> open(std::uint64_t sequence) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto window = std::make_shared<OrdinalWindow>(size_);
    if (cancelled_) window->cancel();
    windows_[sequence] = window;
    return window;
  }
  void release(std::uint64_t sequence) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto found = windows_.find(sequence); found != windows_.end()) {
      found->second->advance();
    }
  }
  void close(std::uint64_t sequence) {
    std::lock_guard<std::mutex> lock(mutex_);
    windows_.erase(sequence);
  }
  void cancel() {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    for (auto& [sequence, window] : windows_) window->cancel();
  }

 private:
  std::size_t size_;
  std::mutex mutex_;
  std::map<std::uint64_t, std::shared_ptr<OrdinalWindow>> windows_;
  bool cancelled_ = false;
};

// Hands records to the caller: in input order (a video's frames in order,
// then its closing record), or as they finish. Runs on the calling thread.
class Delivery {
 public:
  Delivery(const std::function<void(Record&&)>& deliver, const ClassifyJob& job,
           bool ordered, Slots& slots, FrameWindows& windows, StageClock& clock,
           PipelineStats& stats)
      : deliver_(deliver),
        output_{job.output_type, job.topk, job.labels},
        summary_(job.video && job.video->summary &&
                 job.output_type != OutputType::kEmbedding),
        ordered_(ordered),
        slots_(slots),
        windows_(windows),
        clock_(clock),
        stats_(stats) {}

  void take(Completion&& completion);

  std::uint64_t inputs_delivered() const { return inputs_delivered_; }

 private:
  struct VideoState {
    explicit VideoState(const OutputSpec& output, bool summary)
        : summarizer(output, summary) {}
    VideoSummarizer summarizer;
    std::uint64_t frames_delivered = 0;
    std::optional<Completion> parked_end;  // unordered: frames still due
  };

  // Unordered: as they finish, but a video's closing record after all of
  // its frames.
  void take_unordered(Completion&& completion);

  VideoState& state(std::uint64_t sequence);

  // Delivers one completion; true when it closed its input.
  bool hand_over(Completion&& completion);

  void send(Record&& record, bool closing);

  void close_input();

  const std::function<void(Record&&)>& deliver_;
  const OutputSpec output_;
  const bool summary_;
  const bool ordered_;
  Slots& slots_;
  FrameWindows& windows_;
  StageClock& clock_;
  PipelineStats& stats_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Completion> waiting_;
  std::map<std::uint64_t, VideoState> videos_;
  std::uint64_t next_input_ = 0;
  std::uint64_t next_sub_ = 0;
  std::uint64_t inputs_delivered_ = 0;
};

}  // namespace resnet_cli::detail
