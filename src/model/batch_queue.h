// Batches kept in flight on a device: while the device runs one batch (its
// copy in, forward pass and copy out all queued on the device's streams),
// the caller fills the next one in host memory that the model owns (pinned
// memory on CUDA, so that copies to the device are asynchronous DMA).
//
// The caller fills input(slot), submit(slot, n) starts the copy and the
// forward pass and returns at once, collect(slot) waits for that slot's
// outputs. Slots are collected in the order they were submitted, and a
// slot's input is written only while the slot is neither submitted nor
// uncollected. One thread drives a queue.
#pragma once

#include <cstdint>
#include <memory>

namespace resnet_cli {

class Model;

struct BatchShape {
  std::int64_t max_batch = 1;  // images a slot holds
  std::int64_t height = 224;
  std::int64_t width = 224;
  bool features = false;  // outputs: pooled features instead of logits
};

class BatchQueue {
 public:
  virtual ~BatchQueue() = default;

  // Host buffers: how many batches can be filled or in flight at once.
  virtual int slots() const = 0;
  // Floats of output per image (num_classes() or feature_size()).
  virtual std::int64_t outputs_per_image() const = 0;

  // `slot`'s host input: max_batch x 3 x height x width floats, normalized
  // as preprocess.h writes them. Valid for the queue's lifetime.
  virtual float* input(int slot) = 0;

  // Starts running the first `batch` images of input(slot) (1 <= batch <=
  // max_batch). Returns before the device has read them. Throws
  // Error(kModel) or Error(kDevice) (out of memory: names a smaller batch),
  // and std::logic_error when the slot is already in flight.
  virtual void submit(int slot, std::int64_t batch) = 0;

  // Waits for the oldest submitted slot, which must be `slot`, and returns
  // its outputs: batch x outputs_per_image() floats, valid until the slot is
  // submitted again. Throws as submit, and std::logic_error when `slot` is
  // not the oldest in flight.
  virtual const float* collect(int slot) = 0;
};

// The CPU stand-in: host buffers of plain memory and one thread of its own
// that runs model.forward() (or features()) on each submitted slot in
// order, so that submit() returns before the pass has run, as on a device.
// It checks the contract above (std::logic_error), which makes the
// pipeline's use of a device queue testable without one.
std::unique_ptr<BatchQueue> make_host_batch_queue(const Model& model,
                                                  const BatchShape& shape,
                                                  int slots);

}  // namespace resnet_cli
