// ICO and CUR, as PIL 9.4's IcoImagePlugin and CurImagePlugin read them: the
// image PIL picks (image/formats/ico_directory.h), a PNG (read by the PNG
// format's reader) or a DIB whose height is halved; its AND mask or alpha
// only makes alpha, which convert("RGB") drops, but PIL refuses an icon
// whose mask is missing, and so does this. The header is the chosen image's.
#include <cstring>

#include "image/formats/decoder_support.h"
#include "image/formats/dib.h"
#include "image/formats/ico_directory.h"

namespace resnet_cli::detail {

const ImageFormat& png_format();  // png.cpp

namespace {

constexpr char kPngSignature[] = "\x89PNG\r\n\x1A\n";

bool is_dib_header_size(std::uint32_t size) {
  return size == 12 || size == 40 || size == 64 || size == 108 || size == 124;
}

// The entry PIL picks, when it leads to an image PIL would open: a PNG
// with its IHDR (not in a cursor) or a DIB header. A TGA can start with the
// same four bytes as an icon (PIL then tries TGA too).
std::optional<IcoEntry> entry_with_image(const std::uint8_t* data,
                                         std::size_t size) {
  const auto entry = choose_ico_entry(data, size);
  if (!entry || entry->offset > size) return std::nullopt;
  const std::uint8_t* image = data + entry->offset;
  const std::size_t left = size - entry->offset;
  if (!is_cursor(data) && left >= 8 &&
      std::memcmp(image, kPngSignature, 8) == 0) {
    if (left < 24 || std::memcmp(image + 12, "IHDR", 4) != 0) {
      return std::nullopt;
    }
    return entry;
  }
  if (left < 12 || !is_dib_header_size(le32(image))) return std::nullopt;
  return entry;
}

bool sniff(const std::uint8_t* data, std::size_t size) {
  if (size < 4 || data[0] != 0 || data[1] != 0 || data[3] != 0 ||
      (data[2] != 1 && data[2] != 2)) {
    return false;
  }
  return entry_with_image(data, size).has_value();
}

// PIL reads the AND mask (or, at 32 bits, the alpha bytes) and refuses the
// icon when they are not all there.
void check_mask(const Bytes& file, const IcoEntry& entry, const DibHeader& h,
                const std::string& name) {
  if (entry.bpp == 32) return;  // alpha inside the pixels decode_dib reads
  const std::uint64_t padded_width = (h.width + 31) / 32 * 32;
  const std::uint64_t mask_bytes = padded_width * h.height / 8;
  const std::uint64_t end = std::uint64_t{entry.offset} + entry.bytes;
  if (end < mask_bytes || !file.has(end - mask_bytes, mask_bytes) ||
      h.width * h.height == 0) {
    fail(ErrorKind::kDecode, name, "icon's AND mask is missing (truncated)");
  }
}

class IconDibReader : public ImageReader {
 public:
  IconDibReader(const EncodedImage& file, const IcoEntry& entry,
                const DibHeader& header)
      : ImageReader({header.width, header.height}),
        file_(file),
        entry_(entry),
        header_(header) {}

  RgbImage decode() override {
    const Bytes bytes{file_.data, file_.size};
    if (!is_cursor(file_.data)) check_mask(bytes, entry_, header_, file_.name);
    return decode_dib(bytes, header_, entry_.offset, 0, file_.name);
  }

 private:
  EncodedImage file_;
  IcoEntry entry_;
  DibHeader header_;
};

std::unique_ptr<ImageReader> open(const EncodedImage& file,
                                  const DecodeOptions& options) {
  const std::optional<IcoEntry> entry = choose_ico_entry(file.data, file.size);
  if (!entry) fail(ErrorKind::kDecode, file.name, "truncated icon directory");
  const Bytes bytes{file.data, file.size};
  if (!bytes.has(entry->offset, 8)) {
    fail(ErrorKind::kDecode, file.name,
         "icon image lies past the end of the file");
  }
  if (!is_cursor(file.data) &&
      std::memcmp(file.data + entry->offset, kPngSignature, 8) == 0) {
    const EncodedImage png{file.data + entry->offset, file.size - entry->offset,
                           file.name};
    return png_format().open(png, options);
  }
  return std::make_unique<IconDibReader>(
      file, *entry, read_dib_header(bytes, entry->offset, file.name, true));
}

}  // namespace

const ImageFormat& ico_format() {
  static const ImageFormat format{"ICO", {"ico", "cur"}, sniff, open};
  return format;
}

}  // namespace resnet_cli::detail
