// The CPU stand-in for a device's batch queue (batch_queue.h).
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "model/batch_queue.h"
#include "model/model.h"

namespace resnet_cli {

namespace {

class HostBatchQueue final : public BatchQueue {
 public:
  HostBatchQueue(const Model& model, const BatchShape& shape, int slots)
      : model_(model),
        shape_(shape),
        outputs_(shape.features ? model.feature_size() : model.num_classes()),
        slots_(static_cast<std::size_t>(slots)) {
    const auto image = static_cast<std::size_t>(3 * shape.height * shape.width);
    for (Slot& slot : slots_) {
      slot.input.resize(image * static_cast<std::size_t>(shape.max_batch));
      slot.output.resize(static_cast<std::size_t>(outputs_ * shape.max_batch));
    }
    thread_ = std::thread([this] { run(); });
  }

  ~HostBatchQueue() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  int slots() const override { return static_cast<int>(slots_.size()); }
  std::int64_t outputs_per_image() const override { return outputs_; }

  float* input(int slot) override { return at(slot).input.data(); }

  void submit(int slot, std::int64_t batch) override {
    Slot& s = at(slot);
    if (batch < 1 || batch > shape_.max_batch) {
      throw std::logic_error("batch of " + std::to_string(batch) +
                             " images submitted to a slot of " +
                             std::to_string(shape_.max_batch));
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (s.state != State::kFree) {
        throw std::logic_error("slot " + std::to_string(slot) +
                               " submitted while in flight");
      }
      s.state = State::kSubmitted;
      s.batch = batch;
      s.failure = nullptr;
      order_.push_back(slot);
    }
    changed_.notify_all();
  }

  const float* collect(int slot) override {
    Slot& s = at(slot);
    std::unique_lock<std::mutex> lock(mutex_);
    if (order_.empty() || order_.front() != slot) {
      throw std::logic_error("slot " + std::to_string(slot) +
                             " collected out of submission order");
    }
    changed_.wait(lock, [&] { return s.state == State::kDone; });
    order_.pop_front();
    s.state = State::kFree;
    if (s.failure) std::rethrow_exception(s.failure);
    return s.output.data();
  }

 private:
  enum class State { kFree, kSubmitted, kRunning, kDone };

  struct Slot {
    std::vector<float> input, output;
    State state = State::kFree;
    std::int64_t batch = 0;
    std::exception_ptr failure;
  };

  Slot& at(int slot) {
    if (slot < 0 || slot >= slots()) {
      throw std::logic_error("no slot " + std::to_string(slot));
    }
    return slots_[static_cast<std::size_t>(slot)];
  }

  // Runs the submitted slots in submission order, as a device stream would.
  void run() {
    model_.bind_thread(1);
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      Slot* slot = nullptr;
      changed_.wait(lock, [&] {
        slot = next_submitted();
        return slot != nullptr || closing_;
      });
      if (!slot) return;
      slot->state = State::kRunning;
      lock.unlock();
      try {
        if (shape_.features) {
          model_.features(slot->input.data(), slot->batch, shape_.height,
                          shape_.width, slot->output.data());
        } else {
          model_.forward(slot->input.data(), slot->batch, shape_.height,
                         shape_.width, slot->output.data());
        }
      } catch (...) {
        slot->failure = std::current_exception();
      }
      lock.lock();
      slot->state = State::kDone;
      changed_.notify_all();
    }
  }

  // The oldest slot submitted and not yet run (order_ holds the slots in
  // flight, oldest first; those before it have run).
  Slot* next_submitted() {
    for (const int index : order_) {
      Slot& slot = slots_[static_cast<std::size_t>(index)];
      if (slot.state == State::kSubmitted) return &slot;
      if (slot.state == State::kRunning) return nullptr;
    }
    return nullptr;
  }

  const Model& model_;
  BatchShape shape_;
  std::int64_t outputs_;
  std::vector<Slot> slots_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<int> order_;  // submitted, not yet collected; oldest first
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<BatchQueue> make_host_batch_queue(const Model& model,
                                                  const BatchShape& shape,
                                                  int slots) {
  return std::make_unique<HostBatchQueue>(model, shape, slots < 1 ? 1 : slots);
}

}  // namespace resnet_cli
