#include "image/exif.h"

#include <cstring>
#include <optional>

#include "image/formats/bytes.h"
#include "image/formats/jpeg_segments.h"

namespace resnet_cli {

namespace {

using detail::be16;
using detail::be32;
using detail::le16;
using detail::le32;

// The value of a SHORT or LONG tag in the first IFD of a TIFF structure (the
// payload of an Exif segment), or nullopt.
std::optional<std::uint32_t> tiff_first_ifd_tag(const std::uint8_t* tiff,
                                                std::size_t size,
                                                std::uint16_t tag) {
  if (size < 8) return std::nullopt;
  bool big;
  if (std::memcmp(tiff, "MM", 2) == 0) {
    big = true;
  } else if (std::memcmp(tiff, "II", 2) == 0) {
    big = false;
  } else {
    return std::nullopt;
  }
  auto u16 = [&](std::size_t at) {
    return big ? be16(tiff + at) : le16(tiff + at);
  };
  auto u32 = [&](std::size_t at) {
    return big ? be32(tiff + at) : le32(tiff + at);
  };
  auto u64 = [&](std::size_t at) {
    return big ? (std::uint64_t{u32(at)} << 32) | u32(at + 4)
               : (std::uint64_t{u32(at + 4)} << 32) | u32(at);
  };
  // Classic TIFF: 4-byte offsets, 2-byte counts, 12-byte entries; BigTIFF
  // (43): 8-byte offsets and counts, 20-byte entries.
  const bool bigtiff = u16(2) == 43;
  if (!bigtiff && u16(2) != 42) return std::nullopt;
  if (bigtiff && (size < 16 || u16(4) != 8)) return std::nullopt;
  const std::size_t word = bigtiff ? 8 : 4;
  const std::uint64_t ifd = bigtiff ? u64(8) : u32(4);
  if (ifd < 2 * word || ifd > size - word) return std::nullopt;
  const std::uint64_t entries = bigtiff ? u64(ifd) : u16(ifd);
  const std::size_t first = static_cast<std::size_t>(ifd) + (bigtiff ? 8 : 2);
  const std::size_t entry_size = 4 + 2 * word;
  for (std::uint64_t i = 0; i < entries; ++i) {
    const std::uint64_t entry = first + i * entry_size;
    if (entry > size || size - entry < entry_size) return std::nullopt;
    if (u16(entry) != tag) continue;
    const std::size_t value = static_cast<std::size_t>(entry) + 4 + word;
    switch (u16(entry + 2)) {
      case 3:  // SHORT
        return u16(value);
      case 4:  // LONG
        return u32(value);
      case 16:  // LONG8 (BigTIFF)
        if (!bigtiff || u64(value) > 0xFFFFFFFFu) return std::nullopt;
        return static_cast<std::uint32_t>(u64(value));
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

int jpeg_exif_orientation(const std::uint8_t* data, std::size_t size) {
  int orientation = 1;
  detail::visit_jpeg_segments(
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
