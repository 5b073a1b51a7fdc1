#include "run/batch_assembly.h"

#include <cstring>
#include <utility>

namespace resnet_cli {

BatchAssembler::BatchAssembler(BatchQueue& queue, std::size_t image_floats,
                               std::int64_t max_batch, int producers)
    : image_floats_(image_floats),
      max_batch_(max_batch),
      producers_(producers) {
  for (int slot = 0; slot < queue.slots(); ++slot) {
    inputs_.push_back(queue.input(slot));
    free_.push_back(slot);
  }
}

bool BatchAssembler::open_slot() {
  if (open_ >= 0) return true;
  if (free_.empty()) return false;
  open_ = free_.front();
  free_.pop_front();
  reserved_ = 0;
  filled_ = 0;
  images_.clear();
  return true;
}

bool BatchAssembler::add(StagedImage staged, const float* image) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] {
    return cancelled_ || (open_slot() && reserved_ < max_batch_);
  });
  if (cancelled_) return false;
  const int slot = open_;
  const std::int64_t row = reserved_++;
  images_.push_back(std::move(staged));
  lock.unlock();
  std::memcpy(inputs_[static_cast<std::size_t>(slot)] +
                  static_cast<std::size_t>(row) * image_floats_,
              image, image_floats_ * sizeof(float));
  lock.lock();
  ++filled_;
  lock.unlock();
  changed_.notify_all();
  return true;
}

void BatchAssembler::producer_done() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --producers_;
  }
  changed_.notify_all();
}

StagedBatch BatchAssembler::close_open_batch(
    std::unique_lock<std::mutex>& lock) {
  changed_.wait(lock, [this] { return cancelled_ || filled_ == reserved_; });
  StagedBatch batch;
  batch.slot = open_;
  batch.images = std::move(images_);
  images_.clear();
  open_ = -1;
  reserved_ = 0;
  filled_ = 0;
  return batch;
}

std::optional<StagedBatch> BatchAssembler::take(bool only_full) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (only_full) {
    if (cancelled_ || open_ < 0 || reserved_ < max_batch_) return std::nullopt;
  } else {
    changed_.wait(lock, [this] {
      return cancelled_ || (open_ >= 0 && filled_ > 0) ||
             (producers_ == 0 && reserved_ == 0);
    });
    if (cancelled_ || open_ < 0 || reserved_ == 0) return std::nullopt;
  }
  StagedBatch batch = close_open_batch(lock);
  if (cancelled_) return std::nullopt;
  lock.unlock();
  changed_.notify_all();  // producers may open the next free slot
  return batch;
}

void BatchAssembler::release(int slot) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(slot);
  }
  changed_.notify_all();
}

void BatchAssembler::cancel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
  }
  changed_.notify_all();
}

}  // namespace resnet_cli
