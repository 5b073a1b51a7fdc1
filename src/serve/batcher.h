// Dynamic batching for the server, as TorchServe's batch_size and
// max_batch_delay: images submitted by concurrent requests are gathered into
// one forward pass of up to `batch_size` images, a batch waiting at most
// `max_delay` after its first image for more. Inference runs on `workers`
// threads, each bound to `threads_per_worker` LibTorch threads, as classify's
// inference workers are.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "model/model.h"
#include "run/model_batch.h"

namespace resnet_cli::server {

struct BatcherOptions {
  int workers = 1;
  int threads_per_worker = 1;
  int batch_size = 1;
  std::chrono::microseconds max_delay{5000};
  int crop = 224;  // every input is 3 x crop x crop floats
};

class Batcher {
 public:
  // `on_batch` is called (on a worker) with each forward pass's size.
  Batcher(const Model& model, const BatcherOptions& options,
          std::function<void(int)> on_batch);
  // Runs what is queued, then joins the workers.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues one preprocessed image; the future gives its row of `output`
  // (model_batch.h: its logits, its pooled features, or its logits and
  // feature maps), or rethrows what the model threw.
  std::future<std::vector<float>> submit(std::vector<float> input,
                                         BatchOutput output);

  // Images queued and not yet in a forward pass.
  std::size_t depth() const;

 private:
  struct Item {
    std::vector<float> input;
    BatchOutput output = BatchOutput::kLogits;
    std::chrono::steady_clock::time_point queued;
    std::promise<std::vector<float>> result;
  };

  void work();
  std::vector<std::unique_ptr<Item>> next_batch();
  // Moves queued items asking for `output` into `batch`, oldest first,
  // until it holds `size`. Called with mutex_ held.
  void take_matching(std::vector<std::unique_ptr<Item>>& batch,
                     std::size_t size, BatchOutput output);
  void forward(std::vector<std::unique_ptr<Item>>& batch, BatchScratch& scratch,
               std::vector<float>& output);

  const Model& model_;
  BatcherOptions options_;
  std::function<void(int)> on_batch_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<std::unique_ptr<Item>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace resnet_cli::server
