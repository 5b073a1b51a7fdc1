// NumPy's .npy format, for handing tensors to Python (numpy.load).
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace resnet_cli {

// Writes format 1.0, little-endian float32, C order, atomically (see
// AtomicFile). Throws Error(kOutput) naming the file.
void write_npy_float32(const std::filesystem::path& path,
                       const std::vector<std::int64_t>& shape,
                       const float* data);

}  // namespace resnet_cli
