#include "image/formats/jpeg_segments.h"

#include "image/formats/bytes.h"

namespace resnet_cli::detail {

void visit_jpeg_segments(
    const std::uint8_t* data, std::size_t size,
    const std::function<bool(std::uint8_t, const std::uint8_t*, std::size_t)>&
        visit) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return;
  std::size_t pos = 2;
  while (pos + 4 <= size) {
    // Bytes between segments are skipped up to the next marker, as
    // libjpeg does (with a warning Pillow does not show).
    while (pos < size && data[pos] != 0xFF) ++pos;
    while (pos < size && data[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= size) return;
    const std::uint8_t marker = data[pos++];
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;
    if (marker == 0xDA || marker == 0xD9) return;  // image data from here
    if (pos + 2 > size) return;
    const std::size_t length = be16(data + pos);
    if (length < 2 || pos + length > size) return;
    if (!visit(marker, data + pos + 2, length - 2)) return;
    pos += length;
  }
}

}  // namespace resnet_cli::detail
