#include "serve/batcher.h"

#include <algorithm>

namespace resnet_cli::server {

Batcher::Batcher(const Model& model, const BatcherOptions& options,
                 std::function<void(int)> on_batch)
    : model_(model), options_(options), on_batch_(std::move(on_batch)) {
  options_.workers = std::max(1, options_.workers);
  options_.threads_per_worker = std::max(1, options_.threads_per_worker);
  options_.batch_size = std::max(1, options_.batch_size);
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] { work(); });
  }
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  arrived_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

std::future<std::vector<float>> Batcher::submit(std::vector<float> input,
                                                BatchOutput output) {
  auto item = std::make_unique<Item>();
  item->input = std::move(input);
  item->output = output;
  item->queued = std::chrono::steady_clock::now();
  std::future<std::vector<float>> result = item->result.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(item));
  }
  arrived_.notify_one();
  return result;
}

std::size_t Batcher::depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void Batcher::take_matching(std::vector<std::unique_ptr<Item>>& batch,
                            std::size_t size, BatchOutput output) {
  for (auto it = queue_.begin(); it != queue_.end() && batch.size() < size;) {
    if ((*it)->output == output) {
      batch.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
}

// The oldest image, and those queued behind it that ask for the same output,
// waiting for more until the batch is full or the oldest has waited
// max_delay. Empty when stopping with nothing queued.
std::vector<std::unique_ptr<Batcher::Item>> Batcher::next_batch() {
  std::vector<std::unique_ptr<Item>> batch;
  std::unique_lock<std::mutex> lock(mutex_);
  arrived_.wait(lock, [this] { return !queue_.empty() || stopping_; });
  if (queue_.empty()) return batch;
  const auto size = static_cast<std::size_t>(options_.batch_size);
  const BatchOutput output = queue_.front()->output;
  const auto deadline = queue_.front()->queued + options_.max_delay;
  for (;;) {
    take_matching(batch, size, output);
    if (batch.size() >= size || stopping_ ||
        arrived_.wait_until(lock, deadline) == std::cv_status::timeout) {
      break;
    }
  }
  // A last look: images that came while the deadline passed.
  take_matching(batch, size, output);
  return batch;
}

void Batcher::forward(std::vector<std::unique_ptr<Item>>& batch,
                      BatchScratch& scratch, std::vector<float>& output) {
  const BatchOutput kind = batch.front()->output;
  const std::size_t per_image = model_output_size(model_, kind, options_.crop);
  output.resize(per_image * batch.size());
  std::vector<const float*> images;
  for (const auto& item : batch) images.push_back(item->input.data());
  run_model_batch(model_, images, options_.crop, kind, scratch, output.data());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const float* row = output.data() + i * per_image;
    batch[i]->result.set_value(std::vector<float>(row, row + per_image));
  }
}

void Batcher::work() {
  std::exception_ptr bind_error;
  try {
    model_.bind_thread(options_.threads_per_worker);
  } catch (...) {
    bind_error = std::current_exception();
  }
  BatchScratch scratch;
  std::vector<float> output;
  for (;;) {
    std::vector<std::unique_ptr<Item>> batch = next_batch();
    if (batch.empty()) return;
    if (on_batch_) on_batch_(static_cast<int>(batch.size()));
    try {
      if (bind_error) std::rethrow_exception(bind_error);
      forward(batch, scratch, output);
    } catch (...) {
      for (auto& item : batch) {
        item->result.set_exception(std::current_exception());
      }
    }
  }
}

}  // namespace resnet_cli::server
