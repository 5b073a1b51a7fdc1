// Which image of an ICO or CUR file PIL 9.4 loads: shared by the header
// reader (for --max-pixels) and the decoder. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "image/formats/bytes.h"

namespace resnet_cli::detail {

struct IcoEntry {
  std::uint32_t width = 0;  // as the directory states it (ICO: 0 is 256)
  std::uint32_t height = 0;
  std::uint32_t bpp = 0;
  std::uint32_t bytes = 0;   // the image's size in the file
  std::uint32_t offset = 0;  // where the image starts
};

// "\0\0\1\0" (ICO) or "\0\0\2\0" (CUR).
inline bool is_cursor(const std::uint8_t* data) { return data[2] == 2; }

// ICO: the entry with the most pixels, then the highest colour depth, then
// the last in the file (IcoImagePlugin's two stable sorts, reversed). CUR:
// the first entry larger in both directions than every one before it
// (CurImagePlugin). nullopt when the directory is truncated or empty.
inline std::optional<IcoEntry> choose_ico_entry(const std::uint8_t* data,
                                                std::size_t size) {
  if (size < 6) return std::nullopt;
  const std::uint32_t count = le16(data + 4);
  if (count == 0 || size - 6 < std::size_t{count} * 16) return std::nullopt;
  const bool cursor = is_cursor(data);
  std::optional<IcoEntry> best;
  std::uint64_t best_area = 0, best_depth = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint8_t* e = data + 6 + std::size_t{i} * 16;
    IcoEntry entry{e[0], e[1], le16(e + 6), le32(e + 8), le32(e + 12)};
    if (cursor) {
      if (!best || (entry.width > best->width && entry.height > best->height)) {
        best = entry;
      }
      continue;
    }
    if (entry.width == 0) entry.width = 256;
    if (entry.height == 0) entry.height = 256;
    std::uint64_t depth = entry.bpp;
    if (depth == 0 && e[2] != 0) {  // ceil(log2(colour count))
      while ((std::uint64_t{1} << depth) < e[2]) ++depth;
    }
    if (depth == 0) depth = 256;
    const std::uint64_t area = std::uint64_t{entry.width} * entry.height;
    if (!best || area > best_area ||
        (area == best_area && depth >= best_depth)) {
      best = entry;
      best_area = area;
      best_depth = depth;
    }
  }
  return best;
}

}  // namespace resnet_cli::detail
