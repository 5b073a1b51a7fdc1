#include "image/exif.h"

#include <cstring>

#include "image/image_header.h"

namespace resnet_cli {

int jpeg_exif_orientation(const std::uint8_t* data, std::size_t size) {
  int orientation = 1;
  visit_jpeg_segments(
      data, size,
      [&](std::uint8_t marker, const std::uint8_t* payload,
          std::size_t length) {
        if (marker != 0xE1 || length < 6 ||
            std::memcmp(payload, "Exif\0\0", 6) != 0) {
          return true;  // Pillow reads the first Exif segment only
        }
        const auto value = tiff_first_ifd_tag(payload + 6, length - 6, 0x0112);
        if (value && *value >= 1 && *value <= 8)
          orientation = static_cast<int>(*value);
        return false;
      });
  return orientation;
}

RgbImage apply_exif_orientation(RgbImage image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const int w = image.width;
  const int h = image.height;
  const bool swaps = orientation >= 5;
  RgbImage out;
  out.width = swaps ? h : w;
  out.height = swaps ? w : h;
  out.pixels.resize(image.pixels.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      // Source pixel of output (x, y).
      int sx = x;
      int sy = y;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          break;  // FLIP_LEFT_RIGHT
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;  // ROTATE_180
        case 4:
          sy = h - 1 - y;
          break;  // FLIP_TOP_BOTTOM
        case 5:
          sx = y;
          sy = x;
          break;  // TRANSPOSE
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;  // ROTATE_270
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;  // TRANSVERSE
        case 8:
          sx = w - 1 - y;
          sy = x;
          break;  // ROTATE_90
      }
      std::memcpy(out.row(y) + x * 3, image.row(sy) + sx * 3, 3);
    }
  }
  return out;
}

}  // namespace resnet_cli
