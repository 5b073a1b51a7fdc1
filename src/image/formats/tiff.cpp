// TIFF with libtiff: the first page, as PIL 9.4's TiffImagePlugin reads it
// (its OPEN_INFO table) and convert("RGB") converts it. libtiff decompresses
// strips or tiles, contiguous or planar; the samples are then unpacked as
// Pillow's raw modes unpack them:
//   bilevel and grey of 1, 2, 4, 8 bits (min-is-white inverted), scaled to
//   8 bits; grey of 12 and 16 bits (Pillow's "I;16") clipped to 255, signed
//   16-bit clipped to 0..255; grey + alpha; palette images of 1 to 8 bits
//   through the colour map's high bytes; RGB of 8 and 16 bits (high byte)
//   with extra samples dropped, associated alpha divided out as Pillow's
//   "RGBa" unpacker does; CMYK of 8 bits with Pillow's formula; YCbCr through
//   libtiff's conversion (JPEG-compressed: libjpeg's). Other layouts (float,
//   32-bit integer, LAB, ...) are refused as unsupported.
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "image/exif.h"
#include "image/formats/bytes.h"
#include "image/formats/decoder_support.h"

namespace resnet_cli::detail {

namespace {

tmsize_t read_proc(thandle_t handle, void* out, tmsize_t count) {
  if (count <= 0) return 0;
  return static_cast<tmsize_t>(static_cast<MemoryReader*>(handle)->read(
      out, static_cast<std::size_t>(count)));
}

tmsize_t write_proc(thandle_t, void*, tmsize_t) { return -1; }

toff_t seek_proc(thandle_t handle, toff_t offset, int whence) {
  auto* source = static_cast<MemoryReader*>(handle);
  std::uint64_t base = 0;
  if (whence == SEEK_CUR) base = source->position;
  if (whence == SEEK_END) base = source->size;
  const std::uint64_t target = base + offset;
  if (target < base) return static_cast<toff_t>(-1);
  // Seeking past the end is allowed; reading there gives nothing.
  source->position = static_cast<std::size_t>(
      std::min<std::uint64_t>(target, std::uint64_t{1} << 62));
  return target;
}

int close_proc(thandle_t) { return 0; }
toff_t size_proc(thandle_t handle) {
  return static_cast<MemoryReader*>(handle)->size;
}
int map_proc(thandle_t, void**, toff_t*) { return 0; }
void unmap_proc(thandle_t, void*, toff_t) {}

int on_error(TIFF*, void* user, const char* module, const char* format,
             va_list args) {
  char message[256];
  std::vsnprintf(message, sizeof message, format, args);
  static_cast<MemoryReader*>(user)->keep_error(
      std::string(module ? module : "libtiff") + ": " + message);
  return 1;  // handled: nothing printed
}

int on_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

struct TiffCloser {
  void operator()(TIFF* tiff) const { TIFFClose(tiff); }
};

// What the samples are and how one pixel becomes RGB.
enum class Kind { kGrey, kGreyAlpha, kPalette, kRgb, kCmyk };

struct Layout {
  Kind kind = Kind::kGrey;
  std::uint32_t width = 0, height = 0;
  std::uint16_t bits = 1, samples = 1, photometric = 0, planar = 1;
  std::uint16_t format = SAMPLEFORMAT_UINT;
  bool invert = false;      // min-is-white
  bool associated = false;  // premultiplied alpha in the 4th sample
};

[[noreturn]] void unsupported(const std::string& name, const Layout& l) {
  fail(ErrorKind::kUnsupportedFormat, name,
       "TIFF with photometric " + std::to_string(l.photometric) + ", " +
           std::to_string(l.samples) + " samples of " + std::to_string(l.bits) +
           " bits (format " + std::to_string(l.format) +
           ") is not read (nor by PIL 9.4)");
}

// PIL's grey modes: 1-, 2-, 4- and 8-bit "L" (min-is-white inverted),
// "I;16", "I;12", "I;16S", "F", "I" and "LA". False when none fits.
bool grey_layout(Layout& l, bool big_endian, std::uint16_t fill,
                 std::uint16_t extra_count, const std::uint16_t* extra) {
  const bool uint = l.format == SAMPLEFORMAT_UINT;
  l.invert = l.photometric == PHOTOMETRIC_MINISWHITE;
  if (l.samples == 1 && uint &&
      (l.bits == 1 || l.bits == 2 || l.bits == 4 || l.bits == 8)) {
    return true;
  }
  // "I;16" (min-is-white not inverted, as in PIL), "I;12", "I;16S".
  if (l.samples == 1 && l.bits == 16 &&
      ((uint && !big_endian) || (l.photometric == PHOTOMETRIC_MINISBLACK &&
                                 (uint || l.format == SAMPLEFORMAT_INT)))) {
    l.invert = false;
    return true;
  }
  // "F" (float) and "I" (32-bit integer), as PIL's table lists them.
  if (l.samples == 1 && l.bits == 32 &&
      ((l.format == SAMPLEFORMAT_IEEEFP &&
        (l.photometric == PHOTOMETRIC_MINISBLACK || l.invert)) ||
       (l.photometric == PHOTOMETRIC_MINISBLACK &&
        (l.format == SAMPLEFORMAT_INT || (uint && !big_endian))))) {
    l.invert = false;
    return true;
  }
  if (l.samples == 1 && l.bits == 12 && uint && !big_endian && !l.invert &&
      fill == FILLORDER_MSB2LSB) {
    return true;
  }
  if (l.samples == 2 && l.bits == 8 && uint && !l.invert && extra_count == 1 &&
      extra[0] == EXTRASAMPLE_UNASSALPHA) {
    l.kind = Kind::kGreyAlpha;
    return true;
  }
  return false;
}

// PIL's OPEN_INFO, as far as resnet-cli reads it.
Layout layout_of(TIFF* tiff, const std::string& name) {
  Layout l;
  std::uint16_t fill = FILLORDER_MSB2LSB, extra_count = 0;
  std::uint16_t* extra = nullptr;
  TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &l.width);
  TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &l.height);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_BITSPERSAMPLE, &l.bits);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLESPERPIXEL, &l.samples);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_PLANARCONFIG, &l.planar);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLEFORMAT, &l.format);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_FILLORDER, &fill);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_EXTRASAMPLES, &extra_count, &extra);
  // PIL takes a missing PhotometricInterpretation for 0 (min-is-white).
  if (!TIFFGetField(tiff, TIFFTAG_PHOTOMETRIC, &l.photometric)) {
    l.photometric = PHOTOMETRIC_MINISWHITE;
  }
  const bool big_endian = TIFFIsBigEndian(tiff);
  const bool uint = l.format == SAMPLEFORMAT_UINT;
  switch (l.photometric) {
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_MINISBLACK:
      if (grey_layout(l, big_endian, fill, extra_count, extra)) return l;
      break;
    case PHOTOMETRIC_PALETTE:
      l.kind = Kind::kPalette;
      if (l.samples == 1 && uint &&
          (l.bits == 1 || l.bits == 2 || l.bits == 4 || l.bits == 8)) {
        return l;
      }
      // "PA": palette index and alpha.
      if (l.samples == 2 && uint && l.bits == 8 && extra_count == 1 &&
          extra[0] == EXTRASAMPLE_UNASSALPHA) {
        return l;
      }
      break;
    case PHOTOMETRIC_RGB:
      l.kind = Kind::kRgb;
      if (!uint || (l.bits != 8 && l.bits != 16)) break;
      if (l.samples == 3) return l;
      if (l.samples >= 4 && l.samples <= (l.bits == 8 ? 6 : 4)) {
        l.associated = extra_count >= 1 && extra[0] == EXTRASAMPLE_ASSOCALPHA;
        return l;
      }
      break;
    case PHOTOMETRIC_SEPARATED:
      l.kind = Kind::kCmyk;
      if (uint && l.bits == 8 && l.samples >= 4 && l.samples <= 6) return l;
      break;
    default:
      break;
  }
  unsupported(name, l);
}

// The samples of every row, planes one after another (planar) or
// interleaved, `stride` bytes a row (and plane).
struct Samples {
  std::vector<std::uint8_t> bytes;
  std::size_t stride = 0;
};

[[noreturn]] void read_failed(const std::string& name,
                              const MemoryReader& source) {
  fail(ErrorKind::kDecode, name,
       "cannot decode TIFF: " + (source.error.empty()
                                     ? std::string("damaged or truncated data")
                                     : source.error));
}

// Every strip or tile must lie inside the file: PIL drops offsets that
// run past the end and refuses the image; libtiff would read zeros.
void check_strips(TIFF* tiff, std::size_t size, const std::string& name) {
  const std::uint32_t count =
      TIFFIsTiled(tiff) ? TIFFNumberOfTiles(tiff) : TIFFNumberOfStrips(tiff);
  if (count == 0) fail(ErrorKind::kDecode, name, "TIFF without image data");
  for (std::uint32_t i = 0; i < count; ++i) {
    int error = 0;
    const std::uint64_t offset = TIFFGetStrileOffsetWithErr(tiff, i, &error);
    const std::uint64_t bytes = TIFFGetStrileByteCountWithErr(tiff, i, &error);
    if (error || offset == 0 || offset > size || bytes > size - offset) {
      fail(ErrorKind::kDecode, name,
           "TIFF image data lies past the end of the file (truncated or "
           "damaged)");
    }
  }
}

Samples read_samples(TIFF* tiff, const Layout& l, const MemoryReader& source,
                     const std::string& name) {
  const std::size_t planes = l.planar == PLANARCONFIG_SEPARATE ? l.samples : 1;
  const std::size_t per_pixel = planes == 1 ? l.samples : 1;
  Samples out;
  out.stride = (std::size_t{l.width} * per_pixel * l.bits + 7) / 8;
  out.bytes.assign(out.stride * l.height * planes, 0);
  auto plane_row = [&](std::size_t plane, std::size_t y) {
    return out.bytes.data() + (plane * l.height + y) * out.stride;
  };
  if (TIFFIsTiled(tiff)) {
    std::uint32_t tile_w = 0, tile_h = 0;
    TIFFGetField(tiff, TIFFTAG_TILEWIDTH, &tile_w);
    TIFFGetField(tiff, TIFFTAG_TILELENGTH, &tile_h);
    const tmsize_t tile_size = TIFFTileSize(tiff);
    const tmsize_t tile_row = TIFFTileRowSize(tiff);
    if (tile_w == 0 || tile_h == 0 || tile_size <= 0 || tile_row <= 0 ||
        (tile_w * per_pixel * l.bits) % 8 != 0) {
      read_failed(name, source);
    }
    std::vector<std::uint8_t> tile(static_cast<std::size_t>(tile_size));
    for (std::size_t plane = 0; plane < planes; ++plane) {
      for (std::uint32_t y0 = 0; y0 < l.height; y0 += tile_h) {
        for (std::uint32_t x0 = 0; x0 < l.width; x0 += tile_w) {
          if (TIFFReadTile(tiff, tile.data(), x0, y0, 0,
                           static_cast<std::uint16_t>(plane)) < 0) {
            read_failed(name, source);
          }
          const std::size_t x_byte = std::size_t{x0} * per_pixel * l.bits / 8;
          const std::size_t copy = std::min<std::size_t>(
              static_cast<std::size_t>(tile_row), out.stride - x_byte);
          const std::uint32_t rows = std::min(tile_h, l.height - y0);
          for (std::uint32_t y = 0; y < rows; ++y) {
            std::memcpy(plane_row(plane, y0 + y) + x_byte,
                        tile.data() + y * static_cast<std::size_t>(tile_row),
                        copy);
          }
        }
      }
    }
    return out;
  }
  std::uint32_t rows_per_strip = l.height;
  TIFFGetFieldDefaulted(tiff, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
  rows_per_strip =
      std::max<std::uint32_t>(1, std::min(rows_per_strip, l.height));
  const tmsize_t strip_size = TIFFStripSize(tiff);
  if (strip_size <= 0) read_failed(name, source);
  std::vector<std::uint8_t> strip(static_cast<std::size_t>(strip_size));
  const std::uint32_t strips = (l.height + rows_per_strip - 1) / rows_per_strip;
  for (std::size_t plane = 0; plane < planes; ++plane) {
    for (std::uint32_t s = 0; s < strips; ++s) {
      const std::uint32_t y0 = s * rows_per_strip;
      const std::uint32_t rows = std::min(rows_per_strip, l.height - y0);
      const tmsize_t wanted = static_cast<tmsize_t>(rows * out.stride);
      // The whole strip, as Pillow asks for it: a decoder error past the
      // rows needed still fails the image.
      const tmsize_t got = TIFFReadEncodedStrip(
          tiff, static_cast<std::uint32_t>(plane * strips + s), strip.data(),
          strip_size);
      if (got < wanted) read_failed(name, source);
      for (std::uint32_t y = 0; y < rows; ++y) {
        std::memcpy(plane_row(plane, y0 + y), strip.data() + y * out.stride,
                    out.stride);
      }
    }
  }
  return out;
}

// One sample of `bits` bits at index `i` of a row (native byte order).
std::uint32_t sample(const std::uint8_t* row, std::size_t i, int bits) {
  switch (bits) {
    case 8:
      return row[i];
    case 16: {
      std::uint16_t v;
      std::memcpy(&v, row + 2 * i, 2);
      return v;
    }
    case 32: {
      std::uint32_t v;
      std::memcpy(&v, row + 4 * i, 4);
      return v;
    }
    case 12: {  // libtiff leaves 12-bit samples packed, big-endian bits
      const std::size_t bit = i * 12;
      const std::uint32_t pair = (row[bit / 8] << 8) | row[bit / 8 + 1];
      return (bit % 8 == 0) ? pair >> 4 : pair & 0x0FFF;
    }
    default: {  // 1, 2, 4
      const std::size_t bit = i * bits;
      return (row[bit / 8] >> (8 - bits - bit % 8)) & ((1u << bits) - 1);
    }
  }
}

std::uint8_t grey_value(std::uint32_t v, const Layout& l) {
  switch (l.bits) {
    case 1:
    case 2:
    case 4:
    case 8: {
      const std::uint32_t max = (1u << l.bits) - 1;
      const std::uint32_t scaled = v * 255 / max;
      return static_cast<std::uint8_t>(l.invert ? 255 - scaled : scaled);
    }
    case 32:
      if (l.format == SAMPLEFORMAT_IEEEFP) {  // "F" -> "L": clipped, truncated
        float f;
        std::memcpy(&f, &v, 4);
        return static_cast<std::uint8_t>(f >= 255.0f ? 255 : f > 0.0f ? f : 0);
      } else {  // "I": clipped as a signed 32-bit value
        const auto i = static_cast<std::int32_t>(v);
        return static_cast<std::uint8_t>(i <= 0 ? 0 : i >= 255 ? 255 : i);
      }
    default:  // 12 and 16 bits: Pillow's I;16 / I -> RGB clips
      if (l.format == SAMPLEFORMAT_INT) {
        const auto s = static_cast<std::int16_t>(v);
        return static_cast<std::uint8_t>(s < 0 ? 0 : s > 255 ? 255 : s);
      }
      return static_cast<std::uint8_t>(v > 255 ? 255 : v);
  }
}

Palette read_colour_map(TIFF* tiff, const Layout& l, const std::string& name) {
  std::uint16_t *r = nullptr, *g = nullptr, *b = nullptr;
  if (!TIFFGetField(tiff, TIFFTAG_COLORMAP, &r, &g, &b)) {
    fail(ErrorKind::kDecode, name, "palette TIFF without a colour map");
  }
  Palette palette;
  for (std::size_t i = 0; i < (std::size_t{1} << l.bits); ++i) {
    palette.rgb[i][0] = static_cast<std::uint8_t>(r[i] / 256);
    palette.rgb[i][1] = static_cast<std::uint8_t>(g[i] / 256);
    palette.rgb[i][2] = static_cast<std::uint8_t>(b[i] / 256);
  }
  return palette;
}

RgbImage to_rgb(TIFF* tiff, const Layout& l, const Samples& s, RgbImage image,
                const std::string& name) {
  const bool planar = l.planar == PLANARCONFIG_SEPARATE;
  const Palette palette =
      l.kind == Kind::kPalette ? read_colour_map(tiff, l, name) : Palette();
  const std::size_t plane_bytes = s.stride * l.height;
  for (std::uint32_t y = 0; y < l.height; ++y) {
    const std::uint8_t* row = s.bytes.data() + y * s.stride;
    std::uint8_t* out = image.row(static_cast<int>(y));
    for (std::uint32_t x = 0; x < l.width; ++x, out += 3) {
      // Sample c of this pixel.
      auto at = [&](std::size_t c) {
        return planar ? sample(row + c * plane_bytes, x, l.bits)
                      : sample(row, std::size_t{x} * l.samples + c, l.bits);
      };
      switch (l.kind) {
        case Kind::kGrey:
        case Kind::kGreyAlpha:
          out[0] = out[1] = out[2] = grey_value(at(0), l);
          break;
        case Kind::kPalette:
          std::memcpy(out, palette.rgb[at(0) & 0xFF], 3);
          break;
        case Kind::kRgb: {
          const int shift = l.bits == 16 ? 8 : 0;  // the high byte
          int rgb[3];
          for (int c = 0; c < 3; ++c) rgb[c] = static_cast<int>(at(c) >> shift);
          if (l.associated) {
            const int a = static_cast<int>(at(3) >> shift);
            for (int& v : rgb) {
              v = a == 0 ? 0 : a == 255 ? v : std::min(255, v * 255 / a);
            }
          }
          for (int c = 0; c < 3; ++c)
            out[c] = static_cast<std::uint8_t>(rgb[c]);
          break;
        }
        case Kind::kCmyk: {
          const int k = static_cast<int>(at(3));
          for (int c = 0; c < 3; ++c) {
            const int v = 255 - k - muldiv255(static_cast<int>(at(c)), 255 - k);
            out[c] = static_cast<std::uint8_t>(v < 0 ? 0 : v);
          }
          break;
        }
      }
    }
  }
  return image;
}

// YCbCr other than JPEG-compressed: libtiff's RGBA conversion, as Pillow's
// libtiff decoder uses it.
RgbImage read_through_rgba(TIFF* tiff, const Layout& l,
                           const MemoryReader& source,
                           const std::string& name) {
  RgbImage image = new_rgb_image(l.width, l.height, name);
  std::vector<std::uint32_t> rgba(std::size_t{l.width} * l.height);
  if (!TIFFReadRGBAImageOriented(tiff, l.width, l.height, rgba.data(),
                                 ORIENTATION_TOPLEFT, 0)) {
    read_failed(name, source);
  }
  for (std::size_t i = 0; i < rgba.size(); ++i) {
    image.pixels[3 * i] = static_cast<std::uint8_t>(TIFFGetR(rgba[i]));
    image.pixels[3 * i + 1] = static_cast<std::uint8_t>(TIFFGetG(rgba[i]));
    image.pixels[3 * i + 2] = static_cast<std::uint8_t>(TIFFGetB(rgba[i]));
  }
  return image;
}

// At most how many bytes a codec makes of one stored byte, for the codecs
// that bound it (0: no bound): PackBits 128 of 2, LZW 4096 of a 9-bit code,
// Deflate 258 of 2 bits.
std::uint64_t expansion_bound(std::uint16_t compression) {
  switch (compression) {
    case COMPRESSION_PACKBITS:
      return 64;
    case COMPRESSION_LZW:
      return 4096;
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE:
      return 1032;
    default:
      return 0;
  }
}

// The decoded size of strip or tile `i`: a whole tile, or the rows of the
// strip (the last of a plane may have fewer).
std::uint64_t strile_size(TIFF* tiff, std::uint32_t i) {
  if (TIFFIsTiled(tiff))
    return static_cast<std::uint64_t>(TIFFTileSize64(tiff));
  std::uint32_t height = 0, rows_per_strip = 0;
  TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
  rows_per_strip = std::max<std::uint32_t>(1, std::min(rows_per_strip, height));
  const std::uint32_t strips = (height + rows_per_strip - 1) / rows_per_strip;
  const std::uint32_t first_row = (i % strips) * rows_per_strip;
  return static_cast<std::uint64_t>(TIFFVStripSize64(
      tiff, std::min(rows_per_strip, height - std::min(height, first_row))));
}

// Whether the data can hold the samples the image needs, checked before it
// is allocated where the compression bounds it. Uncompressed strips are read
// from their offset for as long as they need (libtiff and PIL both ignore a
// byte count that says less), so each must fit in the file.
void check_data_holds(TIFF* tiff, std::uint16_t compression,
                      std::size_t file_size, const std::string& name) {
  const std::uint32_t count =
      TIFFIsTiled(tiff) ? TIFFNumberOfTiles(tiff) : TIFFNumberOfStrips(tiff);
  const std::uint64_t ratio = expansion_bound(compression);
  std::uint64_t stored = 0, needed = 0;
  bool fits = true;
  for (std::uint32_t i = 0; i < count && fits; ++i) {
    int error = 0;
    const std::uint64_t size = strile_size(tiff, i);
    const std::uint64_t offset = TIFFGetStrileOffsetWithErr(tiff, i, &error);
    stored += TIFFGetStrileByteCountWithErr(tiff, i, &error);
    needed += size;
    if (compression == COMPRESSION_NONE) {
      fits = offset <= file_size && size <= file_size - offset;
    }
  }
  if (!fits || (ratio != 0 && needed > ratio * (stored + count))) {
    fail(ErrorKind::kDecode, name,
         "TIFF image data ends before the image (truncated)");
  }
}

class TiffReader : public ImageReader {
 public:
  TiffReader(ImageSize size, const EncodedImage& file,
             std::unique_ptr<MemoryReader> source,
             std::unique_ptr<TIFF, TiffCloser> tiff, int orientation)
      : ImageReader(size),
        file_(file),
        source_(std::move(source)),
        tiff_(std::move(tiff)),
        orientation_(orientation) {}

  // PIL 9.4 turns every TIFF by its Orientation tag once loaded
  // (TiffImageFile.load_end), as exif_transpose turns a JPEG.
  RgbImage decode() override {
    return apply_exif_orientation(first_page(), orientation_);
  }

 private:
  RgbImage first_page() {
    TIFF* tiff = tiff_.get();
    const std::string& name = file_.name;
    MemoryReader& source = *source_;
    check_strips(tiff, file_.size, name);
    std::uint16_t compression = COMPRESSION_NONE;
    TIFFGetFieldDefaulted(tiff, TIFFTAG_COMPRESSION, &compression);
    std::uint16_t photometric = 0;
    TIFFGetField(tiff, TIFFTAG_PHOTOMETRIC, &photometric);
    if (photometric == PHOTOMETRIC_YCBCR) return ycbcr(compression);
    const Layout l = layout_of(tiff, name);
    check_data_holds(tiff, compression, file_.size, name);
    RgbImage image = new_rgb_image(l.width, l.height, name);
    source.error.clear();
    const Samples samples = read_samples(tiff, l, source, name);
    // A codec that reported an error (Pillow: "broken data stream") fails
    // the image, even where libtiff still filled the strip.
    if (!source.error.empty()) read_failed(name, source);
    return to_rgb(tiff, l, samples, std::move(image), name);
  }

  RgbImage ycbcr(std::uint16_t compression) {
    TIFF* tiff = tiff_.get();
    const std::string& name = file_.name;
    Layout l;
    TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &l.width);
    TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &l.height);
    if (compression != COMPRESSION_JPEG) {
      return read_through_rgba(tiff, l, *source_, name);
    }
    // libjpeg converts to RGB; the strips then hold 8-bit RGB.
    TIFFSetField(tiff, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    l.kind = Kind::kRgb;
    l.bits = 8;
    l.samples = 3;
    l.photometric = PHOTOMETRIC_RGB;
    TIFFGetFieldDefaulted(tiff, TIFFTAG_PLANARCONFIG, &l.planar);
    if (l.planar != PLANARCONFIG_CONTIG) unsupported(name, l);
    RgbImage image = new_rgb_image(l.width, l.height, name);
    source_->error.clear();
    const Samples samples = read_samples(tiff, l, *source_, name);
    if (!source_->error.empty()) read_failed(name, *source_);
    return to_rgb(tiff, l, samples, std::move(image), name);
  }

  EncodedImage file_;
  std::unique_ptr<MemoryReader> source_;
  std::unique_ptr<TIFF, TiffCloser> tiff_;
  int orientation_;
};

bool sniff(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return false;
  return std::memcmp(data, "II*\0", 4) == 0 ||
         std::memcmp(data, "MM\0*", 4) == 0 ||
         std::memcmp(data, "II+\0", 4) == 0 ||  // BigTIFF
         std::memcmp(data, "MM\0+", 4) == 0;
}

// The header is libtiff's first directory; its ImageWidth and ImageLength
// are the size allocated.
std::unique_ptr<ImageReader> open(const EncodedImage& file,
                                  const DecodeOptions&) {
  auto source = std::make_unique<MemoryReader>(file.data, file.size);
  std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> options(
      TIFFOpenOptionsAlloc(), TIFFOpenOptionsFree);
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), on_error, source.get());
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), on_warning, source.get());
  // No single allocation larger than the decoded image could need.
  TIFFOpenOptionsSetMaxSingleMemAlloc(options.get(), tmsize_t{1} << 31);
  std::unique_ptr<TIFF, TiffCloser> tiff(TIFFClientOpenExt(
      file.name.c_str(), "rm", source.get(), read_proc, write_proc, seek_proc,
      close_proc, size_proc, map_proc, unmap_proc, options.get()));
  if (!tiff) read_failed(file.name, *source);
  std::uint32_t width = 0, height = 0;
  TIFFGetField(tiff.get(), TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tiff.get(), TIFFTAG_IMAGELENGTH, &height);
  std::uint16_t orientation = 1;
  TIFFGetField(tiff.get(), TIFFTAG_ORIENTATION, &orientation);
  return std::make_unique<TiffReader>(ImageSize{width, height}, file,
                                      std::move(source), std::move(tiff),
                                      orientation);
}

}  // namespace

const ImageFormat& tiff_format() {
  static const ImageFormat format{"TIFF", {"tif", "tiff"}, sniff, open};
  return format;
}

}  // namespace resnet_cli::detail
