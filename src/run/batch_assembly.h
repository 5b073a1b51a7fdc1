// Batches assembled in a device's host buffers (model/batch_queue.h) by the
// threads that decode: each copies its preprocessed image into the batch
// being filled, so that the thread driving the device only submits and
// collects, and the copies into pinned memory run on every decoding core.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "model/batch_queue.h"
#include "run/record.h"

namespace resnet_cli {

struct StagedImage {
  std::uint64_t sequence = 0;
  std::string path;
  std::uint64_t sub = 0;           // a video frame's place among its video's
  std::optional<FrameInfo> frame;  // a video frame's index and time
};

struct StagedBatch {
  int slot = 0;
  std::vector<StagedImage> images;  // image i is row i of the slot
};

class BatchAssembler {
 public:
  // `queue`'s slots, `image_floats` floats an image, at most `max_batch`
  // images a slot. `producers`: how many threads call add(), each calling
  // producer_done() once when it stops.
  BatchAssembler(BatchQueue& queue, std::size_t image_floats,
                 std::int64_t max_batch, int producers);

  // Copies one preprocessed image into the batch being filled, waiting for
  // a free slot when every slot is taken. False once cancelled.
  bool add(StagedImage staged, const float* image);
  void producer_done();

  // The batch being filled, closed to further images once every image it
  // took is copied in. With `only_full`, returns at once: the batch when it
  // is full, else none. Without, waits until it holds an image: none when
  // every producer is done and nothing is left, or when cancelled.
  std::optional<StagedBatch> take(bool only_full);

  // `slot`'s batch was collected: the slot can be filled again.
  void release(int slot);

  // Wakes and refuses every waiting and later call.
  void cancel();

 private:
  // Opens a free slot for filling when none is open; false when none is free.
  bool open_slot();
  StagedBatch close_open_batch(std::unique_lock<std::mutex>& lock);

  std::vector<float*> inputs_;  // each slot's host buffer
  std::size_t image_floats_;
  std::int64_t max_batch_;
  int producers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<int> free_;
  int open_ = -1;              // the slot being filled, -1: none
  std::int64_t reserved_ = 0;  // images placed in it (copies may run)
  std::int64_t filled_ = 0;    // of which copied in
  std::vector<StagedImage> images_;
  bool cancelled_ = false;
};

}  // namespace resnet_cli
