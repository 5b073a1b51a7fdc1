// A JP2 file's image header box (ihdr, inside jp2h), found the way PIL's
// Jpeg2KImagePlugin walks the boxes: shared by the header reader and the
// JPEG 2000 decoder. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "image/formats/bytes.h"

namespace resnet_cli::detail {

struct Jp2Header {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint32_t components = 0;
  std::uint8_t bits = 0;  // bits per component byte: depth - 1, 0x80 signed
};

// nullopt when a box is shorter than its own header or runs past the end
// (PIL: "Invalid header length"), or there is no ihdr box.
// The boxes in [pos, end) have lengths that fit, as PIL's BoxReader checks
// them (a box header cut short at the end counts as none).
inline bool jp2_boxes_fit(const std::uint8_t* data, std::size_t pos,
                          std::size_t end) {
  while (pos + 8 <= end) {
    const std::uint64_t length = be32(data + pos);
    if (length == 1 || length < 8 || length > end - pos) return false;
    pos += static_cast<std::size_t>(length);
  }
  return true;
}

inline std::optional<Jp2Header> find_jp2_header(const std::uint8_t* data,
                                                std::size_t size) {
  std::size_t pos = 0;
  std::size_t end = size;
  bool inside = false;  // in jp2h, whose every box PIL reads
  std::optional<Jp2Header> found;
  while (pos + 8 <= end) {
    std::uint64_t length = be32(data + pos);
    std::size_t header = 8;
    if (length == 1) {
      if (pos + 16 > end) return std::nullopt;
      length =
          (std::uint64_t{be32(data + pos + 8)} << 32) | be32(data + pos + 12);
      header = 16;
    }
    if (length < header || length > end - pos) return std::nullopt;
    if (!inside && std::memcmp(data + pos + 4, "jp2h", 4) == 0) {
      end = pos + static_cast<std::size_t>(length);
      pos += header;
      inside = true;
      continue;
    }
    if (inside && !found && std::memcmp(data + pos + 4, "ihdr", 4) == 0) {
      if (length < header + 11) return std::nullopt;
      const std::uint8_t* box = data + pos + header;
      found = Jp2Header{be32(box + 4), be32(box), be16(box + 8), box[10]};
    }
    // PIL reads the resolution box's own boxes too.
    if (inside && std::memcmp(data + pos + 4, "res ", 4) == 0 &&
        !jp2_boxes_fit(data, pos + header,
                       pos + static_cast<std::size_t>(length))) {
      return std::nullopt;
    }
    pos += static_cast<std::size_t>(length);
  }
  return found;
}

}  // namespace resnet_cli::detail
