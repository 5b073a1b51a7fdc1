// What this machine's processor offers the model.
#pragma once

namespace resnet_cli {

// The cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

// Whether this CPU runs bf16 convolutions natively (AVX512-BF16).
bool cpu_has_native_bf16();

}  // namespace resnet_cli
