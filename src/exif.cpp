#include "resnet_cli/exif.h"

#include <cstring>

namespace resnet_cli {

namespace {

std::uint32_t read16(const std::uint8_t* p, bool big_endian) {
  return big_endian ? (p[0] << 8) | p[1] : (p[1] << 8) | p[0];
}

std::uint32_t read32(const std::uint8_t* p, bool big_endian) {
  return big_endian
             ? (std::uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3]
             : (std::uint32_t{p[3]} << 24) | (p[2] << 16) | (p[1] << 8) | p[0];
}

// Orientation from a TIFF structure (the Exif payload after "Exif\0\0").
int tiff_orientation(const std::uint8_t* tiff, std::size_t size) {
  if (size < 8) return 1;
  bool big_endian;
  if (std::memcmp(tiff, "MM", 2) == 0) {
    big_endian = true;
  } else if (std::memcmp(tiff, "II", 2) == 0) {
    big_endian = false;
  } else {
    return 1;
  }
  if (read16(tiff + 2, big_endian) != 42) return 1;
  const std::uint32_t ifd = read32(tiff + 4, big_endian);
  if (ifd > size - 2) return 1;
  const std::uint32_t entries = read16(tiff + ifd, big_endian);
  for (std::uint32_t i = 0; i < entries; ++i) {
    const std::size_t entry = ifd + 2 + static_cast<std::size_t>(i) * 12;
    if (entry + 12 > size) return 1;
    if (read16(tiff + entry, big_endian) != 0x0112) continue;
    const std::uint32_t type = read16(tiff + entry + 2, big_endian);
    std::uint32_t value = 0;
    if (type == 3) {  // SHORT
      value = read16(tiff + entry + 8, big_endian);
    } else if (type == 4) {  // LONG
      value = read32(tiff + entry + 8, big_endian);
    } else {
      return 1;
    }
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

}  // namespace

int jpeg_exif_orientation(const std::uint8_t* data, std::size_t size) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
  std::size_t pos = 2;
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) return 1;
    while (pos < size && data[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= size) return 1;
    const std::uint8_t marker = data[pos++];
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
      continue;
    if (marker == 0xDA || marker == 0xD9)
      return 1;  // image data: no more headers
    if (pos + 2 > size) return 1;
    const std::size_t length = (data[pos] << 8) | data[pos + 1];
    if (length < 2 || pos + length > size) return 1;
    const std::uint8_t* payload = data + pos + 2;
    const std::size_t payload_size = length - 2;
    if (marker == 0xE1 && payload_size >= 6 &&
        std::memcmp(payload, "Exif\0\0", 6) == 0) {
      return tiff_orientation(payload + 6, payload_size - 6);
    }
    pos += length;
  }
  return 1;
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
