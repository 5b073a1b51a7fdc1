#include "image/image_header.h"

#include <algorithm>
#include <cstring>

#include "image/formats/bytes.h"
#include "image/formats/ico_directory.h"
#include "image/formats/jp2_header.h"

namespace resnet_cli {

namespace {

using detail::be16;
using detail::be32;
using detail::le16;
using detail::le24;
using detail::le32;

bool starts_with(const std::uint8_t* data, std::size_t size, const char* magic,
                 std::size_t length) {
  return size >= length && std::memcmp(data, magic, length) == 0;
}

std::optional<ImageSize> jpeg_size(const std::uint8_t* data, std::size_t size) {
  std::optional<ImageSize> found;
  visit_jpeg_segments(
      data, size,
      [&](std::uint8_t marker, const std::uint8_t* payload,
          std::size_t payload_size) {
        // SOF0-SOF15, less DHT, JPG and DAC.
        const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 &&
                           marker != 0xC8 && marker != 0xCC;
        if (!frame) return true;
        if (payload_size >= 5) {
          found = ImageSize{be16(payload + 3), be16(payload + 1)};
        }
        return false;
      });
  return found;
}

std::optional<ImageSize> png_size(const std::uint8_t* data, std::size_t size) {
  if (size < 24 || std::memcmp(data + 12, "IHDR", 4) != 0) return std::nullopt;
  return ImageSize{be32(data + 16), be32(data + 20)};
}

// A DIB's header at `at`: BMP's after its file header, an icon's inside it.
std::optional<ImageSize> dib_size(const std::uint8_t* data, std::size_t size,
                                  std::size_t at) {
  if (at > size || size - at < 12) return std::nullopt;
  const std::uint32_t header = le32(data + at);
  if (header == 12) return ImageSize{le16(data + at + 4), le16(data + at + 6)};
  if (header < 40 || size - at < 12) return std::nullopt;
  // PIL's reading: unsigned width; a height whose top byte is 0xFF is
  // negative, a top-down bitmap.
  const std::uint32_t height = le32(data + at + 8);
  return ImageSize{le32(data + at + 4), data[at + 11] == 0xFF
                                            ? (std::uint64_t{1} << 32) - height
                                            : height};
}

std::optional<ImageSize> bmp_size(const std::uint8_t* data, std::size_t size) {
  return dib_size(data, size, 14);
}

std::optional<ImageSize> ico_size(const std::uint8_t* data, std::size_t size) {
  const auto entry = detail::choose_ico_entry(data, size);
  if (!entry || entry->offset > size) return std::nullopt;
  const std::uint8_t* image = data + entry->offset;
  const std::size_t left = size - entry->offset;
  if (!detail::is_cursor(data) &&
      starts_with(image, left, "\x89PNG\r\n\x1A\n", 8)) {
    return png_size(image, left);
  }
  if (size - entry->offset < 4) return std::nullopt;
  const std::uint32_t header = le32(image);
  if (header != 12 && header != 40 && header != 64 && header != 108 &&
      header != 124) {
    return std::nullopt;
  }
  auto dib = dib_size(data, size, entry->offset);
  if (dib) dib->height /= 2;  // the AND mask's rows
  return dib;
}

// TGA has no magic number: these are the checks PIL's TgaImagePlugin makes
// before it takes a file for TGA.
bool looks_like_tga(const std::uint8_t* data, std::size_t size) {
  if (size < 18) return false;
  const std::uint8_t type = data[2], depth = data[16];
  return data[1] <= 1 && le16(data + 12) > 0 && le16(data + 14) > 0 &&
         (depth == 1 || depth == 8 || depth == 16 || depth == 24 ||
          depth == 32) &&
         (type == 1 || type == 2 || type == 3 || type == 9 || type == 10 ||
          type == 11);
}

std::optional<ImageSize> tga_size(const std::uint8_t* data, std::size_t size) {
  if (!looks_like_tga(data, size)) return std::nullopt;
  return ImageSize{le16(data + 12), le16(data + 14)};
}

// The logical screen, grown to hold the first frame as PIL grows it.
std::optional<ImageSize> gif_size(const std::uint8_t* data, std::size_t size) {
  if (size < 10) return std::nullopt;
  ImageSize screen{le16(data + 6), le16(data + 8)};
  if (size < 13) return screen;
  std::size_t pos = 13;
  if (data[10] & 0x80) pos += std::size_t{3} << ((data[10] & 7) + 1);
  while (pos < size && data[pos] == '!') {  // extensions: sub-blocks
    pos += 2;
    while (pos < size && data[pos] != 0) pos += data[pos] + std::size_t{1};
    ++pos;
  }
  if (pos >= size || data[pos] != ',' || size - pos < 9) return screen;
  const std::uint64_t right =
      std::uint64_t{le16(data + pos + 1)} + le16(data + pos + 5);
  const std::uint64_t bottom =
      std::uint64_t{le16(data + pos + 3)} + le16(data + pos + 7);
  return ImageSize{std::max(screen.width, right),
                   std::max(screen.height, bottom)};
}

std::optional<ImageSize> webp_size(const std::uint8_t* data, std::size_t size) {
  if (size < 30) return std::nullopt;
  if (std::memcmp(data + 12, "VP8 ", 4) == 0) {
    if (data[23] != 0x9D || data[24] != 0x01 || data[25] != 0x2A) {
      return std::nullopt;
    }
    return ImageSize{le16(data + 26) & 0x3FFF, le16(data + 28) & 0x3FFF};
  }
  if (std::memcmp(data + 12, "VP8L", 4) == 0) {
    if (data[20] != 0x2F) return std::nullopt;
    const std::uint32_t bits = le32(data + 21);
    return ImageSize{(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (std::memcmp(data + 12, "VP8X", 4) == 0) {
    return ImageSize{std::uint64_t{le24(data + 24)} + 1,
                     std::uint64_t{le24(data + 27)} + 1};
  }
  return std::nullopt;
}

std::optional<ImageSize> pnm_size(const std::uint8_t* data, std::size_t size) {
  std::size_t pos = 2;
  std::uint64_t values[2] = {0, 0};
  for (std::uint64_t& value : values) {
    // Whitespace and '#' comments to the end of their line.
    for (;;) {
      while (pos < size && data[pos] && std::strchr(" \t\r\n\v\f", data[pos]))
        ++pos;
      if (pos < size && data[pos] == '#') {
        while (pos < size && data[pos] != '\n') ++pos;
        continue;
      }
      break;
    }
    if (pos >= size || data[pos] < '0' || data[pos] > '9') return std::nullopt;
    while (pos < size && data[pos] >= '0' && data[pos] <= '9') {
      value = value * 10 + (data[pos++] - '0');
      if (value > (std::uint64_t{1} << 32)) return std::nullopt;
    }
  }
  return ImageSize{values[0], values[1]};
}

std::optional<ImageSize> tiff_size(const std::uint8_t* data, std::size_t size) {
  const auto width = tiff_first_ifd_tag(data, size, 256);
  const auto height = tiff_first_ifd_tag(data, size, 257);
  if (!width || !height) return std::nullopt;
  return ImageSize{*width, *height};
}

std::optional<ImageSize> jpeg2000_size(const std::uint8_t* data,
                                       std::size_t size) {
  if (starts_with(data, size, "\xFF\x4F\xFF\x51", 4)) {  // a bare codestream
    if (size < 24) return std::nullopt;
    const std::uint32_t x = be32(data + 8), y = be32(data + 12);
    const std::uint32_t x0 = be32(data + 16), y0 = be32(data + 20);
    if (x0 > x || y0 > y) return std::nullopt;
    return ImageSize{x - x0, y - y0};
  }
  const auto header = detail::find_jp2_header(data, size);
  if (!header) return std::nullopt;
  return ImageSize{header->width, header->height};
}

}  // namespace

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kTiff:
      return "TIFF";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kGif:
      return "GIF";
    case ImageFormat::kPnm:
      return "PNM";
    case ImageFormat::kJpeg2000:
      return "JPEG 2000";
    case ImageFormat::kOpenExr:
      return "OpenEXR";
    case ImageFormat::kHdr:
      return "Radiance HDR";
    case ImageFormat::kTga:
      return "TGA";
    case ImageFormat::kIco:
      return "ICO";
    case ImageFormat::kDib:
      return "DIB";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

ImageFormat sniff_image_format(const std::uint8_t* data, std::size_t size) {
  if (starts_with(data, size, "\xFF\xD8\xFF", 3)) return ImageFormat::kJpeg;
  if (starts_with(data, size, "\x89PNG\r\n\x1A\n", 8)) return ImageFormat::kPng;
  if (starts_with(data, size, "GIF87a", 6) ||
      starts_with(data, size, "GIF89a", 6)) {
    return ImageFormat::kGif;
  }
  if (starts_with(data, size, "BM", 2) && size >= 26) return ImageFormat::kBmp;
  if (starts_with(data, size, "II*\0", 4) ||
      starts_with(data, size, "MM\0*", 4) ||
      starts_with(data, size, "II+\0", 4) ||  // BigTIFF
      starts_with(data, size, "MM\0+", 4)) {
    return ImageFormat::kTiff;
  }
  if (size >= 12 && starts_with(data, size, "RIFF", 4) &&
      std::memcmp(data + 8, "WEBP", 4) == 0) {
    return ImageFormat::kWebp;
  }
  if (size >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' &&
      (data[2] == ' ' || data[2] == '\n' || data[2] == '\r' ||
       data[2] == '\t')) {
    return ImageFormat::kPnm;
  }
  if (starts_with(data, size, "\x00\x00\x00\x0CjP  \r\n\x87\n", 12) ||
      starts_with(data, size, "\xFF\x4F\xFF\x51", 4)) {
    return ImageFormat::kJpeg2000;
  }
  if (starts_with(data, size, "\x76\x2F\x31\x01", 4))
    return ImageFormat::kOpenExr;
  if (starts_with(data, size, "#?RADIANCE", 10) ||
      starts_with(data, size, "#?RGBE", 6)) {
    return ImageFormat::kHdr;
  }
  // ICO and CUR, when the directory leads to an image PIL would open: a
  // TGA can start with the same four bytes (PIL then tries TGA too).
  if ((starts_with(data, size, "\0\0\1\0", 4) ||
       starts_with(data, size, "\0\0\2\0", 4)) &&
      ico_size(data, size)) {
    return ImageFormat::kIco;
  }
  if (size >= 16) {  // PIL's DibImagePlugin: the header's size
    const std::uint32_t header = le32(data);
    if (header == 12 || header == 40 || header == 64 || header == 108 ||
        header == 124) {
      return ImageFormat::kDib;
    }
  }
  if (looks_like_tga(data, size)) return ImageFormat::kTga;
  return ImageFormat::kUnknown;
}

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

std::optional<ImageSize> read_image_size(ImageFormat format,
                                         const std::uint8_t* data,
                                         std::size_t size) {
  switch (format) {
    case ImageFormat::kJpeg:
      return jpeg_size(data, size);
    case ImageFormat::kPng:
      return png_size(data, size);
    case ImageFormat::kBmp:
      return bmp_size(data, size);
    case ImageFormat::kGif:
      return gif_size(data, size);
    case ImageFormat::kWebp:
      return webp_size(data, size);
    case ImageFormat::kPnm:
      return pnm_size(data, size);
    case ImageFormat::kTiff:
      return tiff_size(data, size);
    case ImageFormat::kJpeg2000:
      return jpeg2000_size(data, size);
    case ImageFormat::kTga:
      return tga_size(data, size);
    case ImageFormat::kIco:
      return ico_size(data, size);
    case ImageFormat::kDib:
      return dib_size(data, size, 0);
    default:
      return std::nullopt;
  }
}

}  // namespace resnet_cli
