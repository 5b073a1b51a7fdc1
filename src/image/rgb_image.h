// The decoded image every decoder produces and the preprocessing consumes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace resnet_cli {

// 8-bit RGB, interleaved (R, G, B), rows top to bottom, no row padding:
// what PIL's Image.convert("RGB") holds.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  // width * height * 3

  std::uint8_t* row(int y) {
    return pixels.data() + static_cast<std::size_t>(y) * width * 3;
  }
  const std::uint8_t* row(int y) const {
    return pixels.data() + static_cast<std::size_t>(y) * width * 3;
  }
};

}  // namespace resnet_cli
