#include "model/torch/torch_device.h"

#include <torch/cuda.h>

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

}  // namespace resnet_cli::detail
