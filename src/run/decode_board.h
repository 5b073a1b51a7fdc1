// What the pipeline's decode threads take (internal to run/): the next
// input, or a chunk of a video that another thread planned (video_frames.h:
// VideoPlan), so that one long video keeps every decode thread busy.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "run/record.h"
#include "run/video_frames.h"
#include "run/work_queue.h"

namespace resnet_cli::detail {

struct Task {
  std::uint64_t sequence = 0;
  std::string path;
};

// A planned video whose chunks several threads read. Its owner (the thread
// that planned it) reads chunks too, then waits for the others.
struct VideoWork {
  std::uint64_t sequence = 0;
  std::string path;
  VideoPlan plan;
  std::shared_ptr<OrdinalWindow> window;
  std::size_t next_chunk = 0;  // guarded by the board
  // The first chunk that stopped (later ones stop too: a sequential read
  // ends there); max: none.
  std::size_t failed_chunk = std::numeric_limits<std::size_t>::max();
  std::optional<RecordError> failure;
  std::uint64_t contiguous = 0;  // frames before the failure, in order
  std::uint64_t produced = 0;    // frames handed to the model
  std::size_t done = 0;          // chunks finished
  std::mutex mutex;              // guards the five above
  std::condition_variable finished;
};

class DecodeBoard {
 public:
  void push(Task task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    changed_.notify_one();
  }
  // No more inputs come.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
  }
  // The pipeline failed: every take() returns false.
  void cancel() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
    }
    changed_.notify_all();
  }
  // Its chunks may be taken by any thread until remove().
  void add(const std::shared_ptr<VideoWork>& video) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      videos_[video->sequence] = video;
    }
    changed_.notify_all();
  }
  void remove(const VideoWork& video) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      videos_.erase(video.sequence);
    }
    changed_.notify_all();
  }

  // A chunk of the earliest video with chunks left (`video` set), else the
  // next input. Blocks while there is neither and more may come; false when
  // cancelled, or when inputs are closed and no video is in progress.
  bool take(Task& task, std::shared_ptr<VideoWork>& video, std::size_t& chunk) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (cancelled_) return false;
      for (auto& [sequence, work] : videos_) {
        if (work->next_chunk < work->plan.chunks.size()) {
          video = work;
          chunk = work->next_chunk++;
          return true;
        }
      }
      video.reset();
      if (!tasks_.empty()) {
        task = std::move(tasks_.front());
        tasks_.pop_front();
        return true;
      }
      if (closed_ && videos_.empty()) return false;
      changed_.wait(lock);
    }
  }

  // How many chunks of `video` were handed out; final once next_chunk()
  // returned false.
  std::size_t handed_out(const VideoWork& video) {
    std::lock_guard<std::mutex> lock(mutex_);
    return video.next_chunk;
  }

  // The next chunk of `video` for its owner; false when none is left.
  bool next_chunk(VideoWork& video, std::size_t& chunk) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cancelled_ || video.next_chunk >= video.plan.chunks.size()) {
      return false;
    }
    chunk = video.next_chunk++;
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Task> tasks_;
  std::map<std::uint64_t, std::shared_ptr<VideoWork>> videos_;
  bool closed_ = false;
  bool cancelled_ = false;
};

}  // namespace resnet_cli::detail
