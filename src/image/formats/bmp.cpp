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
#include "image/formats/decoder_support.h"
#include "image/formats/dib.h"

namespace resnet_cli::detail {

namespace {

enum Compression : std::uint32_t {
  kRaw = 0,
  kRle8 = 1,
  kRle4 = 2,
  kFields = 3
};

// Byte order of one pixel's 4 bytes for 32-bit images: index of R, G, B.
struct Layout32 {
  int r, g, b;
};

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

// What an RLE walk produces: the indices, or only their count.
struct IndexOutput {
  std::vector<std::uint8_t> indices;
  std::uint64_t size() const { return indices.size(); }
  void push_back(std::uint8_t index) { indices.push_back(index); }
  void pad(std::uint64_t count) {
    indices.insert(indices.end(), static_cast<std::size_t>(count), 0);
  }
};

struct CountingOutput {
  std::uint64_t count = 0;
  std::uint64_t size() const { return count; }
  void push_back(std::uint8_t) { ++count; }
  void pad(std::uint64_t n) { count += n; }
};

// Palette indices, one byte a pixel, bottom row first, from RLE4/RLE8 data
// (later Pillow's BmpRleDecoder): runs clipped to the row, end-of-line pads
// the row with index 0, delta skips with index 0. Fewer pixels than the
// image holds is an error, as in Pillow ("not enough image data").
template <typename Output>
void walk_rle(const Bytes& file, std::size_t at, std::uint64_t width,
              std::uint64_t total, bool rle4, Output& out) {
  std::uint64_t x = 0;
  std::size_t pos = at;
  auto pad = [&](std::uint64_t count) {
    out.pad(std::min(count, total - out.size()));
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
}

// The indices, after a first walk that allocates nothing has found that
// the data holds them all.
std::vector<std::uint8_t> decode_rle(const Bytes& file, std::size_t at,
                                     std::uint64_t width, std::uint64_t height,
                                     bool rle4, const std::string& name) {
  const std::uint64_t total = width * height;
  CountingOutput counted;
  walk_rle(file, at, width, total, rle4, counted);
  if (counted.count < total) {
    fail(ErrorKind::kDecode, name,
         "RLE-compressed BMP ends before the image (not enough image data)");
  }
  IndexOutput out;
  out.indices.reserve(static_cast<std::size_t>(total));
  walk_rle(file, at, width, total, rle4, out);
  return std::move(out.indices);
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

void fill_from_indices(const std::vector<std::uint8_t>& indices,
                       const DibHeader& h, const Palette& palette,
                       RgbImage& image) {
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

// Bytes from one stored row to the next (rows are padded to 4 bytes).
std::size_t stride_of(const DibHeader& h) {
  return ((static_cast<std::size_t>(h.width) * h.bits + 31) >> 3) &
         ~std::size_t{3};
}

// The uncompressed rows are all in the file.
void check_raw_pixels(const Bytes& file, std::size_t pixels_at,
                      const DibHeader& h, const std::string& name) {
  check_image_size(h.width, h.height, name);
  const auto height = static_cast<std::size_t>(h.height);
  const std::size_t stride = stride_of(h);
  const std::size_t row_bytes =
      (static_cast<std::size_t>(h.width) * h.bits + 7) / 8;
  if (pixels_at > file.size || (file.size - pixels_at) / stride < height - 1 ||
      file.size - pixels_at - (height - 1) * stride < row_bytes) {
    fail(ErrorKind::kDecode, name,
         "BMP pixel data ends before the image (truncated)");
  }
}

void decode_raw_pixels(const Bytes& file, std::size_t pixels_at,
                       const DibHeader& h, const Palette& palette,
                       const PixelLayout& layout, RgbImage& image) {
  const auto width = static_cast<std::size_t>(h.width);
  const auto height = static_cast<std::size_t>(h.height);
  const std::size_t stride = stride_of(h);
  for (std::size_t y = 0; y < height; ++y) {
    convert_row(file.data + pixels_at + y * stride, width, h.bits, palette,
                layout, image_row(image, h, y));
  }
}

}  // namespace

DibHeader read_dib_header(const Bytes& file, std::size_t at,
                          const std::string& name, bool icon) {
  DibHeader h;
  if (!file.has(at, 4)) fail(ErrorKind::kDecode, name, "truncated BMP header");
  h.header_size = le32(file.data + at);
  if (!file.has(at, h.header_size) || h.header_size < 12) {
    fail(ErrorKind::kDecode, name, "truncated BMP header");
  }
  if (h.header_size < 40 && h.header_size != 12) {
    fail(ErrorKind::kDecode, name, "malformed BMP header");
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
  if (icon) h.height /= 2;
  return h;
}

RgbImage decode_dib(const Bytes& file, const DibHeader& h,
                    std::size_t header_at, std::size_t pixels_at,
                    const std::string& name) {
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
  if (h.compression == kRle4 || h.compression == kRle8) {
    check_image_size(h.width, h.height, name);
    const std::vector<std::uint8_t> indices = decode_rle(
        file, pixels_at, h.width, h.height, h.compression == kRle4, name);
    RgbImage image = new_rgb_image(h.width, h.height, name);
    fill_from_indices(indices, h, palette, image);
    return image;
  }
  check_raw_pixels(file, pixels_at, h, name);
  RgbImage image = new_rgb_image(h.width, h.height, name);
  decode_raw_pixels(file, pixels_at, h, palette, layout, image);
  return image;
}

namespace {

// BMP and DIB: the header is the DIB's; its size is the one allocated.
class DibReader : public ImageReader {
 public:
  DibReader(const EncodedImage& file, const DibHeader& header,
            std::size_t header_at, std::size_t pixels_at)
      : ImageReader({header.width, header.height}),
        file_(file),
        header_(header),
        header_at_(header_at),
        pixels_at_(pixels_at) {}

  RgbImage decode() override {
    return decode_dib(Bytes{file_.data, file_.size}, header_, header_at_,
                      pixels_at_, file_.name);
  }

 private:
  EncodedImage file_;
  DibHeader header_;
  std::size_t header_at_;
  std::size_t pixels_at_;
};

bool sniff_bmp(const std::uint8_t* data, std::size_t size) {
  return size >= 26 && data[0] == 'B' && data[1] == 'M';
}

std::unique_ptr<ImageReader> open_bmp(const EncodedImage& file,
                                      const DecodeOptions&) {
  if (file.size < 18)
    fail(ErrorKind::kDecode, file.name, "truncated BMP header");
  const Bytes bytes{file.data, file.size};
  return std::make_unique<DibReader>(
      file, read_dib_header(bytes, 14, file.name), 14, le32(file.data + 10));
}

bool is_dib_header_size(std::uint32_t size) {
  return size == 12 || size == 40 || size == 64 || size == 108 || size == 124;
}

// PIL's DibImagePlugin: a file that starts with a header size it knows.
bool sniff_dib(const std::uint8_t* data, std::size_t size) {
  return size >= 16 && is_dib_header_size(le32(data));
}

std::unique_ptr<ImageReader> open_dib(const EncodedImage& file,
                                      const DecodeOptions&) {
  const Bytes bytes{file.data, file.size};
  return std::make_unique<DibReader>(file, read_dib_header(bytes, 0, file.name),
                                     0, 0);
}

}  // namespace

const ImageFormat& bmp_format() {
  static const ImageFormat format{"BMP", {"bmp"}, sniff_bmp, open_bmp};
  return format;
}

const ImageFormat& dib_format() {
  static const ImageFormat format{"DIB", {"dib"}, sniff_dib, open_dib};
  return format;
}

}  // namespace resnet_cli::detail
