// BMP and DIB, read as PIL 9.4's BmpImagePlugin reads them: OS/2 (12-byte)
// and Windows (40, 64, 108, 124-byte) headers; 1, 4, 8-bit palettes (short
// palettes filled with Pillow's grey ramp), RLE4 and RLE8 (as later Pillow
// decodes them: Pillow 9.4 misreads odd-length absolute runs), 16-bit 5-5-5
// and, with bit fields, 5-6-5; 24-bit; 32-bit in every mask order Pillow
// accepts (alpha dropped). Other depths, masks and compressions are refused
// as Pillow refuses them.
#include <algorithm>
#include <cstring>
#include <vector>

#include "image/formats/bytes.h"
#include "image/formats/decoders.h"

namespace resnet_cli::detail {

namespace {

enum Compression : std::uint32_t {
  kRaw = 0,
  kRle8 = 1,
  kRle4 = 2,
  kFields = 3
};

struct DibHeader {
  std::uint32_t header_size = 0;
  std::uint64_t width = 0;
  std::uint64_t height = 0;
  bool top_down = false;
  std::uint32_t bits = 0;
  std::uint32_t compression = kRaw;
  std::uint64_t colors = 0;     // palette entries
  std::size_t entry_size = 4;   // bytes per palette entry (3 for OS/2)
  std::size_t palette_at = 0;   // where the colour table starts
  std::uint32_t masks[4] = {};  // R, G, B, A bit fields
};

// Byte order of one pixel's 4 bytes for 32-bit images: index of R, G, B.
struct Layout32 {
  int r, g, b;
};

DibHeader read_header(const Bytes& file, std::size_t at,
                      const std::string& name) {
  DibHeader h;
  if (!file.has(at, 4)) fail(ErrorKind::kDecode, name, "truncated BMP header");
  h.header_size = le32(file.data + at);
  if (!file.has(at, h.header_size) || h.header_size < 12) {
    fail(ErrorKind::kDecode, name, "truncated BMP header");
  }
  const std::uint8_t* p = file.data + at + 4;
  if (h.header_size == 12) {
    h.width = le16(p);
    h.height = le16(p + 2);
    h.bits = le16(p + 6);
    h.entry_size = 3;
  } else if (h.header_size == 40 || h.header_size == 64 ||
             h.header_size == 108 || h.header_size == 124) {
    h.width = le32(p);
    // Pillow takes a height whose top byte is 0xFF as negative: top-down.
    h.top_down = p[7] == 0xFF;
    h.height =
        h.top_down ? (std::uint64_t{1} << 32) - le32(p + 4) : le32(p + 4);
    h.bits = le16(p + 10);
    h.compression = le32(p + 12);
    h.colors = le32(p + 28);
  } else {
    fail(ErrorKind::kUnsupportedFormat, name,
         "unsupported BMP header type (" + std::to_string(h.header_size) +
             " bytes)");
  }
  h.palette_at = at + h.header_size;
  if (h.compression == kFields) {
    if (h.header_size >= 56) {
      for (int i = 0; i < 4; ++i) h.masks[i] = le32(p + 36 + 4 * i);
    } else {  // BITMAPINFOHEADER: three masks follow the header
      if (!file.has(h.palette_at, 12)) {
        fail(ErrorKind::kDecode, name, "truncated BMP bit fields");
      }
      for (int i = 0; i < 3; ++i)
        h.masks[i] = le32(file.data + h.palette_at + 4 * i);
      h.palette_at += 12;
    }
  }
  if (h.colors == 0) h.colors = h.bits < 64 ? std::uint64_t{1} << h.bits : 0;
  return h;
}

// 32-bit bit-field orders Pillow knows (BmpImagePlugin's MASK_MODES).
bool layout_of_masks(const std::uint32_t masks[4], Layout32* layout) {
  struct Known {
    std::uint32_t r, g, b, a;
    Layout32 layout;
  };
  static const Known known[] = {
      {0xFF0000, 0xFF00, 0xFF, 0x0, {2, 1, 0}},         // BGRX
      {0xFF000000, 0xFF0000, 0xFF00, 0x0, {3, 2, 1}},   // XBGR
      {0xFF000000, 0xFF0000, 0xFF00, 0xFF, {3, 2, 1}},  // ABGR
      {0xFF, 0xFF00, 0xFF0000, 0xFF000000, {0, 1, 2}},  // RGBA
      {0xFF0000, 0xFF00, 0xFF, 0xFF000000, {2, 1, 0}},  // BGRA
      {0x0, 0x0, 0x0, 0x0, {2, 1, 0}},                  // BGRA
  };
  for (const Known& k : known) {
    if (masks[0] == k.r && masks[1] == k.g && masks[2] == k.b &&
        masks[3] == k.a) {
      *layout = k.layout;
      return true;
    }
  }
  return false;
}

// Pillow's BGR;16 (5-6-5) and BGR;15 (5-5-5) unpackers.
void unpack16(std::uint32_t pixel, bool six_green, std::uint8_t* out) {
  if (!six_green) {
    unpack_bgr15(pixel, out);
    return;
  }
  out[0] = static_cast<std::uint8_t>(((pixel >> 11) & 31) * 255 / 31);
  out[1] = static_cast<std::uint8_t>(((pixel >> 5) & 63) * 255 / 63);
  out[2] = static_cast<std::uint8_t>((pixel & 31) * 255 / 31);
}

// Palette indices, one byte a pixel, bottom row first, from RLE4/RLE8 data
// (later Pillow's BmpRleDecoder): runs clipped to the row, end-of-line pads
// the row with index 0, delta skips with index 0. Fewer pixels than the
// image holds is an error, as in Pillow ("not enough image data").
std::vector<std::uint8_t> decode_rle(const Bytes& file, std::size_t at,
                                     std::uint64_t width, std::uint64_t height,
                                     bool rle4, const std::string& name) {
  const std::uint64_t total = width * height;
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(
      std::min<std::uint64_t>(total, std::uint64_t{file.size} * 2 * 255 + 1)));
  std::uint64_t x = 0;
  std::size_t pos = at;
  auto pad = [&](std::uint64_t count) {
    count = std::min(count, total - out.size());
    out.insert(out.end(), static_cast<std::size_t>(count), 0);
  };
  while (out.size() < total) {
    if (!file.has(pos, 2)) break;
    const std::uint32_t count = file.data[pos];
    const std::uint8_t value = file.data[pos + 1];
    pos += 2;
    if (count != 0) {  // a run
      const std::uint64_t run =
          x + count > width ? (x < width ? width - x : 0) : count;
      for (std::uint64_t i = 0; i < run && out.size() < total; ++i) {
        out.push_back(rle4 ? (i % 2 == 0 ? value >> 4 : value & 0x0F) : value);
      }
      x += run;
    } else if (value == 0) {  // end of line
      pad((width - out.size() % width) % width);
      x = 0;
    } else if (value == 1) {  // end of bitmap
      break;
    } else if (value == 2) {  // delta: right, up
      if (!file.has(pos, 2)) break;
      pad(file.data[pos] + std::uint64_t{file.data[pos + 1]} * width);
      pos += 2;
      x = out.size() % width;
    } else {  // absolute: `value` literal indices
      const std::uint64_t wanted =
          std::min<std::uint64_t>(total - out.size(), value);
      const std::size_t byte_count =
          static_cast<std::size_t>(rle4 ? (wanted + 1) / 2 : wanted);
      const std::size_t available = std::min(byte_count, file.size - pos);
      for (std::size_t i = 0; i < available; ++i) {
        const std::uint8_t byte = file.data[pos + i];
        if (!rle4) {
          out.push_back(byte);
          continue;
        }
        out.push_back(byte >> 4);
        if (i * 2 + 1 < wanted) out.push_back(byte & 0x0F);
      }
      pos += available;
      if (available < byte_count || out.size() == total) break;
      x += value;
      if (pos % 2 != 0) ++pos;  // word-aligned, in the file (as Pillow)
    }
  }
  if (out.size() < total) {
    fail(ErrorKind::kDecode, name,
         "RLE-compressed BMP ends before the image (not enough image data)");
  }
  return out;
}

// The palette as Pillow reads it, and whether it is all grey.
Palette read_palette(const Bytes& file, const DibHeader& h,
                     const std::string& name) {
  if (h.colors == 0 || h.colors > 65536) {
    fail(ErrorKind::kUnsupportedFormat, name,
         "unsupported BMP palette size (" + std::to_string(h.colors) + ")");
  }
  const std::size_t wanted = static_cast<std::size_t>(h.colors) * h.entry_size;
  const std::size_t available =
      h.palette_at >= file.size ? 0
                                : std::min(wanted, file.size - h.palette_at);
  const std::size_t entries = available / h.entry_size;
  if (entries > 256) {
    fail(ErrorKind::kDecode, name, "BMP palette has more than 256 colours");
  }
  Palette palette;
  for (std::size_t i = 0; i < entries; ++i) {
    const std::uint8_t* e = file.data + h.palette_at + i * h.entry_size;
    palette.rgb[i][0] = e[2];
    palette.rgb[i][1] = e[1];
    palette.rgb[i][2] = e[0];
  }
  return palette;
}

}  // namespace

RgbImage new_rgb_image(std::uint64_t width, std::uint64_t height,
                       const std::string& name) {
  constexpr std::uint64_t kMaxSide = 1u << 30;
  if (width == 0 || height == 0) {
    fail(ErrorKind::kDecode, name, "the image is empty (0 pixels)");
  }
  if (width > kMaxSide || height > kMaxSide ||
      width * height > (std::uint64_t{1} << 32)) {
    fail(ErrorKind::kTooLarge, name,
         std::to_string(width) + "x" + std::to_string(height) +
             " pixels is too large to decode");
  }
  RgbImage image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.pixels.assign(static_cast<std::size_t>(width * height * 3), 0);
  return image;
}

namespace {

// How a BMP's uncompressed pixels are laid out, from its compression and
// bit fields; throws for what PIL does not decode.
struct PixelLayout {
  Layout32 layout32{2, 1, 0};  // 32-bit: byte of R, G and B
  bool six_green = false;      // 16-bit: 5-6-5 rather than 5-5-5
};

PixelLayout pixel_layout(const DibHeader& h, bool palette_image,
                         const std::string& name) {
  PixelLayout layout;
  switch (h.compression) {
    case kRaw:
      return layout;
    case kRle8:
    case kRle4:
      if (!palette_image) {
        fail(ErrorKind::kUnsupportedFormat, name,
             "RLE compression of a " + std::to_string(h.bits) + "-bit BMP");
      }
      return layout;
    case kFields:
      if (h.bits == 32 && layout_of_masks(h.masks, &layout.layout32)) {
        return layout;
      }
      if (h.bits == 24 && h.masks[0] == 0xFF0000 && h.masks[1] == 0xFF00 &&
          h.masks[2] == 0xFF) {
        return layout;
      }
      if (h.bits == 16 && h.masks[2] == 0x1F &&
          ((h.masks[0] == 0xF800 && h.masks[1] == 0x7E0) ||
           (h.masks[0] == 0x7C00 && h.masks[1] == 0x3E0))) {
        layout.six_green = h.masks[0] == 0xF800;
        return layout;
      }
      fail(ErrorKind::kUnsupportedFormat, name,
           "unsupported BMP bit fields layout");
    default:
      fail(ErrorKind::kUnsupportedFormat, name,
           "unsupported BMP compression (" + std::to_string(h.compression) +
               ")");
  }
}

// The image row a stored row lands on (BMPs are bottom-up unless flagged).
std::uint8_t* image_row(RgbImage& image, const DibHeader& h,
                        std::size_t stored_row) {
  const auto height = static_cast<std::size_t>(h.height);
  return image.row(
      static_cast<int>(h.top_down ? stored_row : height - 1 - stored_row));
}

void decode_rle_pixels(const Bytes& file, std::size_t pixels_at,
                       const DibHeader& h, const Palette& palette,
                       RgbImage& image, const std::string& name) {
  const std::vector<std::uint8_t> indices = decode_rle(
      file, pixels_at, h.width, h.height, h.compression == kRle4, name);
  const auto width = static_cast<std::size_t>(h.width);
  for (std::size_t y = 0; y < static_cast<std::size_t>(h.height); ++y) {
    std::uint8_t* out = image_row(image, h, y);
    for (std::size_t x = 0; x < width; ++x, out += 3) {
      std::memcpy(out, palette.rgb[indices[y * width + x]], 3);
    }
  }
}

void convert_row(const std::uint8_t* in, std::size_t width, int bits,
                 const Palette& palette, const PixelLayout& layout,
                 std::uint8_t* out) {
  for (std::size_t x = 0; x < width; ++x, out += 3) {
    switch (bits) {
      case 1:
        std::memcpy(out, palette.rgb[(in[x / 8] >> (7 - x % 8)) & 1], 3);
        break;
      case 4:
        std::memcpy(out, palette.rgb[(in[x / 2] >> (x % 2 ? 0 : 4)) & 15], 3);
        break;
      case 8:
        std::memcpy(out, palette.rgb[in[x]], 3);
        break;
      case 16:
        unpack16(le16(in + 2 * x), layout.six_green, out);
        break;
      case 24:
        out[0] = in[3 * x + 2];
        out[1] = in[3 * x + 1];
        out[2] = in[3 * x];
        break;
      default:  // 32
        out[0] = in[4 * x + layout.layout32.r];
        out[1] = in[4 * x + layout.layout32.g];
        out[2] = in[4 * x + layout.layout32.b];
        break;
    }
  }
}

void decode_raw_pixels(const Bytes& file, std::size_t pixels_at,
                       const DibHeader& h, const Palette& palette,
                       const PixelLayout& layout, RgbImage& image,
                       const std::string& name) {
  const auto width = static_cast<std::size_t>(h.width);
  const auto height = static_cast<std::size_t>(h.height);
  const std::size_t stride = ((width * h.bits + 31) >> 3) & ~std::size_t{3};
  const std::size_t row_bytes = (width * h.bits + 7) / 8;
  if (pixels_at > file.size || (file.size - pixels_at) / stride < height - 1 ||
      file.size - pixels_at - (height - 1) * stride < row_bytes) {
    fail(ErrorKind::kDecode, name,
         "BMP pixel data ends before the image (truncated)");
  }
  for (std::size_t y = 0; y < height; ++y) {
    convert_row(file.data + pixels_at + y * stride, width, h.bits, palette,
                layout, image_row(image, h, y));
  }
}

}  // namespace

RgbImage decode_dib(const std::uint8_t* data, std::size_t size,
                    std::size_t header_at, std::size_t pixels_at,
                    const std::string& name, bool icon) {
  const Bytes file{data, size};
  DibHeader h = read_header(file, header_at, name);
  if (icon) h.height /= 2;
  const bool palette_image = h.bits == 1 || h.bits == 4 || h.bits == 8;
  if (!palette_image && h.bits != 16 && h.bits != 24 && h.bits != 32) {
    fail(ErrorKind::kUnsupportedFormat, name,
         "unsupported BMP pixel depth (" + std::to_string(h.bits) + ")");
  }
  // BMP's file header gives the pixels' offset; Pillow skips a palette of
  // `colors` 4-byte entries when that offset points right after the header.
  if (pixels_at == 0) {  // a DIB inside an ICO: right after the palette
    pixels_at = h.palette_at + (palette_image ? h.entry_size * h.colors : 0);
  } else if (pixels_at == header_at + h.header_size && h.bits <= 8) {
    pixels_at += 4 * h.colors;
  }
  const PixelLayout layout = pixel_layout(h, palette_image, name);
  const Palette palette =
      palette_image ? read_palette(file, h, name) : Palette();
  RgbImage image = new_rgb_image(h.width, h.height, name);
  if (h.compression == kRle4 || h.compression == kRle8) {
    decode_rle_pixels(file, pixels_at, h, palette, image, name);
  } else {
    decode_raw_pixels(file, pixels_at, h, palette, layout, image, name);
  }
  return image;
}

RgbImage decode_bmp(const std::uint8_t* data, std::size_t size,
                    const std::string& name) {
  if (size < 18) fail(ErrorKind::kDecode, name, "truncated BMP header");
  return decode_dib(data, size, 14, le32(data + 10), name);
}

}  // namespace resnet_cli::detail
