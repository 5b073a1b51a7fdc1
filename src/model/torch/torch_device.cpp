#include "model/torch/torch_device.h"

#include <ATen/Parallel.h>
#include <omp.h>
#include <torch/cuda.h>

#include "base/cpu.h"
#include "base/error.h"
#include "model/device.h"
#include "model/torch/torch_compat.h"

namespace resnet_cli::detail {

at::Device choose_device(const std::string& device, bool tf32) {
  const DeviceSpec spec = parse_device(device);
  if (!spec.cuda) return at::Device(at::kCPU);
  if (!at::hasCUDA()) {
    throw Error(ErrorKind::kDevice,
                "--device " + device +
                    ": this build of resnet-cli has no CUDA support (its "
                    "LibTorch is CPU-only); use --device cpu");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (spec.index >= count) {
    throw Error(ErrorKind::kDevice, "--device " + device + ": only " +
                                        std::to_string(count) +
                                        " CUDA device(s) visible");
  }
  allow_tf32(tf32);
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(spec.index));
}

// Not at::set_num_threads: besides OpenMP's count it rebuilds LibTorch's
// pthreadpool (unused here) on every call, and each rebuilt pool's threads
// spin for milliseconds, taking a core from the work (measured: about 50 ms
// of a 0.65 s cold classify). LibTorch's own once-per-thread OpenMP default
// is applied first, so that it cannot override this count later.
void bind_cpu_threads(int threads) {
  at::internal::lazy_init_num_threads();
  omp_set_num_threads(threads > 0 ? threads : available_cores());
}

}  // namespace resnet_cli::detail
