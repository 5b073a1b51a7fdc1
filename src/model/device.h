// The device a model runs on (--device), as the user typed it, checked
// without LibTorch so that the front end, the pipeline's planning and the
// unit tests share one reading of it.
#pragma once

#include <string>

namespace resnet_cli {

struct DeviceSpec {
  bool cuda = false;  // false: the CPU
  int index = 0;      // CUDA device index (cuda = cuda:0)

  // "cpu" or "cuda:N".
  std::string name() const;
};

// "cpu", "cuda" or "cuda:N" (N of at most 3 digits), any ASCII case.
// Anything else is Error(kUsage) naming the text. Whether such a device
// exists is the model's business (Error(kDevice) when it loads).
DeviceSpec parse_device(const std::string& text);

}  // namespace resnet_cli
