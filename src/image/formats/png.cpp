// PNG (and APNG's default image) with libpng, driven to give what Pillow's
// PNG plugin and convert("RGB") give: palette indices through the palette
// (an index past its end is grey (i, i, i), Pillow's ramp; transparency
// ignored), alpha dropped, grey replicated, 1-, 2- and 4-bit grey scaled to 8
// bits, 16-bit grey clipped to 255 (Pillow's mode "I"), other 16-bit images
// reduced to their high byte. The header is libpng's png_read_info; the
// size it gives is the one allocated.
//
// Read as PIL reads it: the CRCs of the chunks before the image data are
// checked, those from the first IDAT on are not; the image data is what the
// IDAT chunks hold, so an IDAT that declares more bytes than the file has
// gives what is there, and decoding stops once every row is out. After the
// image, a file that ends between chunks (no IEND) is whole.
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <vector>

#include "image/formats/bytes.h"
#include "image/formats/decoder_support.h"
#include "image/formats/png_chunks.h"
#include "image/formats/png_errors.h"

namespace resnet_cli::detail {

namespace {

constexpr char kSignature[] = "\x89PNG\r\n\x1A\n";

bool sniff(const std::uint8_t* data, std::size_t size) {
  return size >= 8 && std::memcmp(data, kSignature, 8) == 0;
}

// What libpng is given to read: the file, with an IDAT whose declared length
// runs past the end cut to the bytes there are, and a file that ends inside
// or between chunks closed with a CRC and an IEND chunk, so that libpng
// meets the end where PIL stops reading.
struct Stream {
  const std::uint8_t* data = nullptr;
  std::size_t cut = 0;           // bytes of the file served
  std::size_t patch_at = 0;      // an IDAT's length field replaced (0: none)
  std::uint8_t patched[4] = {};  // the length it gets
  std::uint8_t suffix[16] = {};  // served after `cut`
  std::size_t suffix_size = 0;
  std::uint64_t idat_bytes = 0;  // image data in the file (every IDAT's)
  std::size_t position = 0;

  std::size_t total() const { return cut + suffix_size; }

  // What libpng's failure means: the file ended early (then libpng met the
  // IEND served in its place), or its own message.
  std::string reason(const char* message) const {
    return suffix_size > 0 ? "the file ends before the image (truncated)"
                           : message;
  }

  // Copies `count` bytes from `position` on (the caller checked they are
  // there).
  void copy(std::uint8_t* out, std::size_t count) {
    const std::size_t from_file =
        position < cut ? std::min(count, cut - position) : 0;
    if (from_file > 0) std::memcpy(out, data + position, from_file);
    for (std::size_t i = 0; i < 4 && patch_at != 0; ++i) {
      if (patch_at + i >= position && patch_at + i < position + from_file) {
        out[patch_at + i - position] = patched[i];
      }
    }
    position += from_file;
    const std::size_t rest = count - from_file;
    if (rest > 0) std::memcpy(out + from_file, suffix + (position - cut), rest);
    position += rest;
  }
};

// Where the file ends, as PIL's chunk reading meets it.
Stream stream_of(const std::uint8_t* data, std::size_t size) {
  static const std::uint8_t kEnd[16] = {
      0, 0, 0, 0, 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  Stream s;
  s.data = data;
  s.cut = size;
  std::size_t pos = 8;
  // The file served up to `cut`, then (after a CRC when `crc`) an IEND.
  auto close = [&](std::size_t cut, bool crc) {
    s.cut = cut;
    s.suffix_size = crc ? 16 : 12;
    std::memcpy(s.suffix, crc ? kEnd : kEnd + 4, s.suffix_size);
    return s;
  };
  while (pos <= size) {
    if (size - pos < 8) return close(pos, false);  // no chunk header
    const std::uint32_t length = be32(data + pos);
    const bool idat = std::memcmp(data + pos + 4, "IDAT", 4) == 0;
    const std::size_t left = size - pos - 8;
    if (idat) s.idat_bytes += std::min<std::size_t>(length, left);
    if (std::memcmp(data + pos + 4, "IEND", 4) == 0) {
      if (left < std::size_t{length} + 4) return close(pos, false);
      return s;
    }
    if (left >= std::size_t{length} + 4) {
      pos += std::size_t{12} + length;
      continue;
    }
    if (left >= length) return close(pos + 8 + length, true);  // no CRC
    if (idat) {  // PIL reads the bytes there are
      s.patch_at = pos;
      const auto there = static_cast<std::uint32_t>(left);
      const std::uint8_t bytes[4] = {static_cast<std::uint8_t>(there >> 24),
                                     static_cast<std::uint8_t>(there >> 16),
                                     static_cast<std::uint8_t>(there >> 8),
                                     static_cast<std::uint8_t>(there)};
      std::memcpy(s.patched, bytes, 4);
      return close(size, true);
    }
    return s;  // another chunk cut short: libpng fails on it, as PIL does
  }
  return s;
}

void read_bytes(png_structp png, png_bytep out, png_size_t count) {
  auto* stream = static_cast<Stream*>(png_get_io_ptr(png));
  if (count > stream->total() - stream->position) {
    png_error(png, "the file ends before the image (truncated)");
  }
  stream->copy(out, count);
}

// What the transforms below turn each pixel into.
struct Layout {
  int channels = 0;      // 1 (grey, or a palette index) or 3 (RGB)
  bool wide = false;     // 16-bit samples kept (grey that Pillow clips)
  bool indexed = false;  // palette indices, expanded by Pillow's rule
  int file_bits = 0;     // bits a pixel in the file, before the transforms
};

// The libpng calls: no object with a destructor lives in these frames, so
// the longjmp from png_error_to_sink is safe.
bool read_header(png_structp png, png_infop info, Layout* layout) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  // From the first IDAT on, PIL checks no CRC (nor what follows the image).
  png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  layout->file_bits = depth * png_get_channels(png, info);
  layout->indexed = color == PNG_COLOR_TYPE_PALETTE;
  if (layout->indexed && depth < 8) png_set_packing(png);  // a byte an index
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) {
    png_set_expand_gray_1_2_4_to_8(png);
  }
  if (!layout->indexed && ((color & PNG_COLOR_MASK_ALPHA) ||
                           png_get_valid(png, info, PNG_INFO_tRNS))) {
    png_set_strip_alpha(png);
  }
  layout->wide = color == PNG_COLOR_TYPE_GRAY && depth == 16;
  if (layout->wide) {
    png_set_swap(png);  // native (little-endian) 16-bit samples
  } else if (depth == 16) {
    png_set_strip_16(png);  // the high byte, as Pillow's ;16B unpackers
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  layout->channels = png_get_channels(png, info);
  return true;
}

bool read_rows(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

// The palette as Pillow holds it: the PLTE entries, then its grey ramp.
Palette palette_of(png_structp png, png_infop info) {
  Palette palette;
  png_colorp entries = nullptr;
  int count = 0;
  if (png_get_PLTE(png, info, &entries, &count) == 0) return palette;
  for (int i = 0; i < count && i < 256; ++i) {
    palette.rgb[i][0] = entries[i].red;
    palette.rgb[i][1] = entries[i].green;
    palette.rgb[i][2] = entries[i].blue;
  }
  return palette;
}

// Deflate codes at most 258 bytes in 2 bits: a zlib stream of n bytes
// inflates to at most 1032 n bytes (and a match). An image's rows, filter
// bytes left out, cannot come from fewer IDAT bytes than that.
bool data_can_hold(std::uint64_t idat_bytes, std::uint64_t width,
                   std::uint64_t height, int bits_per_pixel) {
  const std::uint64_t image_bytes = width * bits_per_pixel / 8 * height;
  return image_bytes / 1032 <= idat_bytes + 1;
}

struct PngStructs {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngErrorSink errors;
  ~PngStructs() { png_destroy_read_struct(&png, &info, nullptr); }
};

class PngReader : public ImageReader {
 public:
  PngReader(ImageSize size, const EncodedImage& file,
            std::unique_ptr<Stream> stream, std::unique_ptr<PngStructs> png,
            Layout layout)
      : ImageReader(size),
        file_(file),
        stream_(std::move(stream)),
        png_(std::move(png)),
        layout_(layout) {}

  RgbImage decode() override {
    check_png_chunks(file_.data, file_.size, file_.name);
    png_structp png = png_->png;
    png_infop info = png_->info;
    if (!data_can_hold(stream_->idat_bytes, size().width, size().height,
                       layout_.file_bits)) {
      fail(ErrorKind::kDecode, file_.name,
           "PNG image data ends before the image (truncated)");
    }
    const auto width = static_cast<std::size_t>(size().width);
    const auto height = static_cast<std::size_t>(size().height);
    check_image_size(width, height, file_.name);
    const std::size_t stride = png_get_rowbytes(png, info);
    std::vector<std::uint8_t> pixels(stride * height);
    std::vector<png_bytep> rows(height);
    for (std::size_t y = 0; y < height; ++y) {
      rows[y] = pixels.data() + y * stride;
    }
    if (!read_rows(png, rows.data())) {
      fail(ErrorKind::kDecode, file_.name,
           "cannot decode PNG: " + stream_->reason(png_->errors.message));
    }
    RgbImage image;
    image.width = static_cast<int>(width);
    image.height = static_cast<int>(height);
    if (layout_.channels == 3) {
      image.pixels = std::move(pixels);
      return image;
    }
    const Palette palette = layout_.indexed ? palette_of(png, info) : Palette();
    image.pixels.resize(width * height * 3);
    for (std::size_t y = 0; y < height; ++y) {
      std::uint8_t* out = image.row(static_cast<int>(y));
      for (std::size_t x = 0; x < width; ++x, out += 3) {
        if (layout_.indexed) {
          std::memcpy(out, palette.rgb[rows[y][x]], 3);
          continue;
        }
        std::uint8_t value;
        if (layout_.wide) {
          std::uint16_t sample;
          std::memcpy(&sample, rows[y] + 2 * x, 2);
          value = static_cast<std::uint8_t>(sample > 255 ? 255 : sample);
        } else {
          value = rows[y][x];
        }
        out[0] = out[1] = out[2] = value;
      }
    }
    return image;
  }

 private:
  EncodedImage file_;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<PngStructs> png_;
  Layout layout_;
};

std::unique_ptr<ImageReader> open(const EncodedImage& file,
                                  const DecodeOptions&) {
  auto stream = std::make_unique<Stream>(stream_of(file.data, file.size));
  auto png = std::make_unique<PngStructs>();
  png->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &png->errors,
                                    png_error_to_sink, png_ignore_warning);
  png->info = png->png ? png_create_info_struct(png->png) : nullptr;
  if (!png->png || !png->info) {
    fail(ErrorKind::kDecode, file.name, "cannot decode PNG: out of memory");
  }
  png_set_read_fn(png->png, stream.get(), read_bytes);
  Layout layout;
  const bool read = read_header(png->png, png->info, &layout);
  const ImageSize size{png_get_image_width(png->png, png->info),
                       png_get_image_height(png->png, png->info)};
  if (!read) {
    // libpng refuses an IHDR of width or height 0 without storing it; say
    // what the header declares rather than where libpng stopped.
    if (file.size >= 24 && std::memcmp(file.data + 12, "IHDR", 4) == 0 &&
        (be32(file.data + 16) == 0 || be32(file.data + 20) == 0)) {
      fail(ErrorKind::kDecode, file.name, "the header declares an empty image");
    }
    Error error(ErrorKind::kDecode, file.name + ": cannot decode PNG: " +
                                        stream->reason(png->errors.message));
    // IHDR was read: its size is checked first.
    if (size.width == 0 || size.height == 0) throw error;
    return std::make_unique<FailedReader>(size, std::move(error));
  }
  if (layout.channels != 1 && layout.channels != 3) {
    fail(ErrorKind::kDecode, file.name, "cannot decode PNG: unexpected layout");
  }
  return std::make_unique<PngReader>(size, file, std::move(stream),
                                     std::move(png), layout);
}

}  // namespace

const ImageFormat& png_format() {
  static const ImageFormat format{"PNG", {"png", "apng"}, sniff, open};
  return format;
}

}  // namespace resnet_cli::detail
