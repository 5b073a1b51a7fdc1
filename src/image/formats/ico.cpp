// ICO and CUR, as PIL 9.4's IcoImagePlugin and CurImagePlugin read them: the
// image PIL picks (image/formats/ico_directory.h), a PNG or a DIB whose height is
// halved; its AND mask or alpha only makes alpha, which convert("RGB")
// drops, but PIL refuses an icon whose mask is missing, and so does this.
#include <cstring>

#include "image/formats/decoders.h"
#include "image/formats/ico_directory.h"
#include "image/formats/png_decode.h"

namespace resnet_cli::detail {

namespace {

// PIL reads the AND mask (or, at 32 bits, the alpha bytes) and refuses the
// icon when they are not all there.
void check_mask(const Bytes& file, const IcoEntry& entry, const RgbImage& image,
                const std::string& name) {
  const std::uint64_t pixels =
      static_cast<std::uint64_t>(image.width) * image.height;
  if (entry.bpp == 32) return;  // alpha inside the pixels decode_dib read
  const std::uint64_t padded_width =
      (image.width + std::uint64_t{31}) / 32 * 32;
  const std::uint64_t mask_bytes = padded_width * image.height / 8;
  const std::uint64_t end = std::uint64_t{entry.offset} + entry.bytes;
  if (end < mask_bytes || !file.has(end - mask_bytes, mask_bytes) ||
      pixels == 0) {
    fail(ErrorKind::kDecode, name, "icon's AND mask is missing (truncated)");
  }
}

}  // namespace

RgbImage decode_ico(const std::uint8_t* data, std::size_t size,
                    const std::string& name) {
  const Bytes file{data, size};
  const std::optional<IcoEntry> entry = choose_ico_entry(data, size);
  if (!entry) fail(ErrorKind::kDecode, name, "truncated icon directory");
  if (!file.has(entry->offset, 8)) {
    fail(ErrorKind::kDecode, name, "icon image lies past the end of the file");
  }
  if (is_cursor(data)) {
    return decode_dib(data, size, entry->offset, 0, name, true);
  }
  if (std::memcmp(data + entry->offset, "\x89PNG\r\n\x1A\n", 8) == 0) {
    check_png_chunks(data + entry->offset, size - entry->offset, name);
    return decode_png(data + entry->offset, size - entry->offset, name);
  }
  RgbImage image = decode_dib(data, size, entry->offset, 0, name, true);
  check_mask(file, *entry, image, name);
  return image;
}

}  // namespace resnet_cli::detail
