// The LibTorch device --device names (model/device.h), checked against what
// this LibTorch and machine have, for the network and the trainer alike; and
// the CPU threads a calling thread's LibTorch work runs on.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace resnet_cli::detail {

// at::kCPU, or CUDA device N after checking that this LibTorch has CUDA and
// the machine has device N (Error(kDevice) otherwise; Error(kUsage) for text
// that names no device). On CUDA it also sets whether cuDNN and cuBLAS may
// use TF32 (process-wide, as torch.backends' flags are).
at::Device choose_device(const std::string& device, bool tf32);

// The calling thread's OpenMP thread count, which LibTorch's CPU operators
// run on: `threads`, or every available core when 0 or less.
void bind_cpu_threads(int threads);

}  // namespace resnet_cli::detail
