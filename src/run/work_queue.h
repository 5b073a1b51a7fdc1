// The pipeline's blocking parts (internal to run/): a closable queue, the
// in-flight slots that bound how many inputs are started, and a video's
// window of frames in flight (a video's frames wait for the inputs before it
// when records are delivered in order; the window keeps them from piling
// up).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

namespace resnet_cli::detail {

// A closable queue. Its length is bounded by the in-flight slots and
// windows, not here.
template <typename T>
class Queue {
 public:
  void push(T item) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
  }
  // Blocks until an item is there (true) or the queue is closed and empty.
  bool pop(T& item) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    item = std::move(items_.front());
    items_.pop_front();
    return true;
  }
  bool try_pop(T& item) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (items_.empty()) return false;
    item = std::move(items_.front());
    items_.pop_front();
    return true;
  }
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false;
};

// Counts inputs in flight: taken when one starts, given back when its
// record has been delivered.
class Slots {
 public:
  explicit Slots(std::size_t count) : free_(count) {}
  // Blocks until one is free (true) or cancel() was called (false).
  bool acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return free_ > 0 || cancelled_; });
    if (cancelled_) return false;
    --free_;
    return true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++free_;
    }
    changed_.notify_one();
  }
  void cancel() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t free_;
  bool cancelled_ = false;
};

// A video's frames in flight, by their place among its taken frames: frame
// `ordinal` may be prepared once fewer than `size` frames before it wait for
// delivery. Several threads reading chunks of one video then never starve
// the one holding the earliest frames (a count alone could be taken by
// later chunks while the earliest waits).
class OrdinalWindow {
 public:
  explicit OrdinalWindow(std::uint64_t size) : size_(size) {}
  // Blocks until `ordinal` is inside the window (true) or cancel() (false).
  bool wait(std::uint64_t ordinal) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock,
                  [&] { return ordinal < delivered_ + size_ || cancelled_; });
    return !cancelled_;
  }
  // One more frame delivered.
  void advance() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++delivered_;
    }
    changed_.notify_all();
  }
  void cancel() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t size_;
  std::uint64_t delivered_ = 0;
  bool cancelled_ = false;
};

}  // namespace resnet_cli::detail
