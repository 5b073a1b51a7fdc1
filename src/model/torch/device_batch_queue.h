// The batch queue of a CUDA model (model/batch_queue.h): pinned host
// buffers, a copy stream and a compute stream, so that a batch's copy to the
// GPU overlaps the previous batch's forward pass and the host fills the next
// one meanwhile. Written against LibTorch's device-generic stream and event
// API (c10::Stream, c10::Event), so that it compiles with a CPU-only
// LibTorch too and needs no CUDA headers.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <string>

#include "model/batch_queue.h"

namespace resnet_cli::detail {

// The network on the device: `input` is batch x 3 x H x W float32 on the
// device, the result batch x outputs float32 on the device, both on the
// calling thread's current stream.
using DeviceForward =
    std::function<at::Tensor(const at::Tensor& input, bool features)>;

// Throws Error(kDevice) when the device has no memory for the buffers.
std::unique_ptr<BatchQueue> make_device_batch_queue(at::Device device,
                                                    const BatchShape& shape,
                                                    std::int64_t outputs,
                                                    DeviceForward forward);

// The Error a failed device call becomes: out of memory is Error(kDevice)
// naming the device, the batch and a batch size to try; anything else
// Error(kModel) with `what` ("inference failed") and LibTorch's first line.
[[noreturn]] void throw_device_error(const c10::Error& error,
                                     const at::Device& device,
                                     std::int64_t batch,
                                     const std::string& what);

}  // namespace resnet_cli::detail
