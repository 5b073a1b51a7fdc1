// The LibTorch calls whose spelling differs between Debian's LibTorch 1.13
// (CI) and the official LibTorch 2.x (CPU or CUDA) that a GPU user builds
// against: the one place that knows which version it is compiled with.
// Everything else on the model side uses calls both versions share.
#pragma once

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <c10/core/Event.h>
#include <torch/version.h>

#include <chrono>
#include <thread>

// True when compiling against LibTorch major.minor or newer.
#define RESNET_CLI_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||             \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace resnet_cli::detail {

// torch.autocast(device_type, dtype) on (enabled) or off for the calling
// thread. 2.4 replaced the per-device calls (set_cpu_enabled, set_enabled
// for CUDA, set_autocast_{cpu,gpu}_dtype) by calls taking the device type,
// and deprecated the old ones.
inline void set_autocast(at::DeviceType device, bool enabled,
                         at::ScalarType dtype) {
#if RESNET_CLI_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_dtype(device, dtype);
  at::autocast::set_autocast_enabled(device, enabled);
#else
  if (device == at::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

// Blocks until `event`'s recorded work has run. c10::Event has no
// synchronize() in 1.13; polling query() every 20 microseconds costs the
// waiting thread nothing that matters next to a forward pass of
// milliseconds, and works the same on every version.
inline void wait_for(const c10::Event& event) {
  while (!event.query()) {
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

// TF32 for cuDNN's convolutions and cuBLAS's matrix products (PyTorch's
// torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32;
// both versions keep these setters).
inline void allow_tf32(bool allowed) {
  at::globalContext().setAllowTF32CuDNN(allowed);
  at::globalContext().setAllowTF32CuBLAS(allowed);
}

}  // namespace resnet_cli::detail
