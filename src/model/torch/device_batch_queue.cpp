#include "model/torch/device_batch_queue.h"

#include <c10/core/DeviceGuard.h>
#include <c10/core/Event.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/Stream.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <deque>
#include <stdexcept>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/text.h"
#include "model/torch/torch_compat.h"

namespace resnet_cli::detail {

void throw_device_error(const c10::Error& error, const at::Device& device,
                        std::int64_t batch, const std::string& what) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&error)) {
    const std::int64_t smaller = batch > 1 ? batch / 2 : 1;
    throw Error(ErrorKind::kDevice,
                device.str() + ": out of memory at a batch of " +
                    std::to_string(batch) + " images; try --batch-size " +
                    std::to_string(smaller));
  }
  throw Error(ErrorKind::kModel,
              what + ": " + first_line(error.what_without_backtrace()));
}

namespace {

// Three slots: one filled by the host, one copied in while the third runs.
constexpr int kSlots = 3;

class DeviceBatchQueue final : public BatchQueue {
 public:
  DeviceBatchQueue(at::Device device, const BatchShape& shape,
                   std::int64_t outputs, DeviceForward forward)
      : device_(device),
        shape_(shape),
        outputs_(outputs),
        forward_(std::move(forward)),
        guard_impl_(device.type()),
        copy_stream_(guard_impl_.getStreamFromGlobalPool(device)),
        compute_stream_(guard_impl_.getStreamFromGlobalPool(device)) {
    const c10::InferenceMode inference;
    const c10::DeviceGuard device_guard(device_);
    const std::int64_t image = 3 * shape.height * shape.width;
    const auto pinned =
        at::TensorOptions().dtype(at::kFloat).pinned_memory(true);
    slots_.reserve(kSlots);
    try {
      for (int i = 0; i < kSlots; ++i) {
        Slot slot(device.type());
        slot.host_input =
            at::empty({shape.max_batch, 3, shape.height, shape.width}, pinned);
        slot.device_input =
            at::empty({shape.max_batch, 3, shape.height, shape.width},
                      at::TensorOptions().dtype(at::kFloat).device(device_));
        slot.host_output = at::empty({shape.max_batch, outputs_}, pinned);
        slots_.push_back(std::move(slot));
      }
    } catch (const c10::Error& e) {
      throw_device_error(e, device_, shape.max_batch,
                         "cannot allocate batch buffers of " +
                             std::to_string(shape.max_batch * image * 4) +
                             " bytes");
    }
  }

  ~DeviceBatchQueue() override {
    // The buffers may still be read by queued copies and kernels.
    try {
      copy_stream_.synchronize();
      compute_stream_.synchronize();
    } catch (...) {
    }
  }

  int slots() const override { return kSlots; }
  std::int64_t outputs_per_image() const override { return outputs_; }

  float* input(int slot) override {
    return at(slot).host_input.data_ptr<float>();
  }

  void submit(int slot, std::int64_t batch) override {
    Slot& s = at(slot);
    if (s.in_flight) {
      throw std::logic_error("slot " + std::to_string(slot) +
                             " submitted while in flight");
    }
    if (batch < 1 || batch > shape_.max_batch) {
      throw std::logic_error("batch of " + std::to_string(batch) +
                             " images submitted to a slot of " +
                             std::to_string(shape_.max_batch));
    }
    try {
      const c10::InferenceMode inference;
      const c10::DeviceGuard device_guard(device_);
      const at::Tensor device_input = s.device_input.narrow(0, 0, batch);
      {
        // The copy on a stream of its own: it overlaps the pass before.
        const c10::StreamGuard stream_guard(copy_stream_);
        device_input.copy_(s.host_input.narrow(0, 0, batch),
                           /*non_blocking=*/true);
        s.copied.record(copy_stream_);
      }
      const c10::StreamGuard stream_guard(compute_stream_);
      s.copied.block(compute_stream_);
      const at::Tensor output = forward_(device_input, shape_.features);
      s.host_output.narrow(0, 0, batch).copy_(output, /*non_blocking=*/true);
      s.done.record(compute_stream_);
    } catch (const c10::Error& e) {
      throw_device_error(e, device_, batch, "inference failed");
    }
    s.in_flight = true;
    order_.push_back(slot);
  }

  const float* collect(int slot) override {
    Slot& s = at(slot);
    if (order_.empty() || order_.front() != slot) {
      throw std::logic_error("slot " + std::to_string(slot) +
                             " collected out of submission order");
    }
    order_.pop_front();
    s.in_flight = false;
    try {
      wait_for(s.done);
    } catch (const c10::Error& e) {
      throw_device_error(e, device_, shape_.max_batch, "inference failed");
    }
    return s.host_output.data_ptr<float>();
  }

 private:
  struct Slot {
    explicit Slot(at::DeviceType type) : copied(type), done(type) {}
    at::Tensor host_input;    // pinned
    at::Tensor device_input;  // on the device
    at::Tensor host_output;   // pinned
    c10::Event copied;        // the input is on the device
    c10::Event done;          // the output is in host_output
    bool in_flight = false;
  };

  Slot& at(int slot) {
    if (slot < 0 || slot >= kSlots) {
      throw std::logic_error("no slot " + std::to_string(slot));
    }
    return slots_[static_cast<std::size_t>(slot)];
  }

  at::Device device_;
  BatchShape shape_;
  std::int64_t outputs_;
  DeviceForward forward_;
  c10::impl::VirtualGuardImpl guard_impl_;
  c10::Stream copy_stream_;
  c10::Stream compute_stream_;
  std::vector<Slot> slots_;
  std::deque<int> order_;  // submitted, not yet collected; oldest first
};

}  // namespace

std::unique_ptr<BatchQueue> make_device_batch_queue(at::Device device,
                                                    const BatchShape& shape,
                                                    std::int64_t outputs,
                                                    DeviceForward forward) {
  return std::make_unique<DeviceBatchQueue>(device, shape, outputs,
                                            std::move(forward));
}

}  // namespace resnet_cli::detail
