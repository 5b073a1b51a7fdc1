// TGA (Truevision Targa), read as PIL 9.4's TgaImagePlugin reads it: colour
// mapped 8-bit (palette of 15, 24 or 32-bit entries, alpha dropped), true
// colour 16 (5-5-5), 24 and 32-bit (alpha dropped), grey 1, 8 and 16-bit
// (grey + alpha), raw or run-length encoded (runs may cross rows), any of
// the four orientations. What PIL cannot decode is refused.
#include <cstring>
#include <vector>

#include "image/formats/bytes.h"
#include "image/formats/decoder_support.h"

namespace resnet_cli::detail {

namespace {

enum class Kind { kPalette, kTrueColour, kGrey };

// The pixel stream, `count` pixels of `bytes` each, from raw or RLE data.
std::vector<std::uint8_t> read_pixels(const Bytes& file, std::size_t at,
                                      std::size_t count, std::size_t bytes,
                                      bool rle, const std::string& name) {
  const std::size_t total = count * bytes;
  if (!rle) {
    if (!file.has(at, total)) {
      fail(ErrorKind::kDecode, name,
           "TGA pixel data ends before the image "
           "(truncated)");
    }
    return std::vector<std::uint8_t>(file.data + at, file.data + at + total);
  }
  std::vector<std::uint8_t> out;
  out.reserve(total);
  std::size_t pos = at;
  while (out.size() < total) {
    if (!file.has(pos, 1)) break;
    const std::uint8_t packet = file.data[pos++];
    const std::size_t n = (packet & 0x7F) + std::size_t{1};
    const std::size_t literal = packet & 0x80 ? bytes : n * bytes;
    if (!file.has(pos, literal)) break;
    if (packet & 0x80) {
      for (std::size_t i = 0; i < n && out.size() < total; ++i) {
        out.insert(out.end(), file.data + pos, file.data + pos + bytes);
      }
    } else {
      const std::size_t keep = std::min(literal, total - out.size());
      out.insert(out.end(), file.data + pos, file.data + pos + keep);
    }
    pos += literal;
  }
  if (out.size() < total) {
    fail(ErrorKind::kDecode, name,
         "TGA run-length data ends before the image (truncated)");
  }
  return out;
}

struct TgaHeader {
  std::uint32_t id_length, map_type, type, map_start, map_length, map_depth;
  std::uint32_t width, height, depth, flags;
  Kind kind;
};

TgaHeader read_header(const std::uint8_t* data, std::size_t size,
                      const std::string& name) {
  if (size < 18) fail(ErrorKind::kDecode, name, "truncated TGA header");
  TgaHeader h{data[0],        data[1],  data[2],         le16(data + 3),
              le16(data + 5), data[7],  le16(data + 12), le16(data + 14),
              data[16],       data[17], Kind::kGrey};
  if (h.type == 3 || h.type == 11) {
    h.kind = Kind::kGrey;
  } else if (h.type == 1 || h.type == 9) {
    h.kind = Kind::kPalette;
  } else if (h.type == 2 || h.type == 10) {
    h.kind = Kind::kTrueColour;
  } else {
    fail(ErrorKind::kUnsupportedFormat, name, "unknown TGA image type");
  }
  // PIL's MODES table: the depths each kind decodes.
  const bool decodable = (h.kind == Kind::kPalette && h.depth == 8) ||
                         (h.kind == Kind::kGrey &&
                          (h.depth == 1 || h.depth == 8 || h.depth == 16)) ||
                         (h.kind == Kind::kTrueColour &&
                          (h.depth == 16 || h.depth == 24 || h.depth == 32));
  if (!decodable || h.map_type > 1) {
    fail(ErrorKind::kUnsupportedFormat, name,
         "TGA with " + std::to_string(h.depth) + "-bit pixels of type " +
             std::to_string(h.type) + " (PIL cannot decode it either)");
  }
  return h;
}

// The colour map, read from `pos` (moved past it). PIL prepends
// `map_start` black entries and reads what is there.
Palette read_colour_map(const Bytes& file, const TgaHeader& h, std::size_t& pos,
                        const std::string& name) {
  Palette palette;
  if (h.map_type != 1 ||
      !(h.map_depth == 16 || h.map_depth == 24 || h.map_depth == 32)) {
    return palette;
  }
  const std::size_t entry = h.map_depth / 8;
  const std::size_t wanted = h.map_length * entry;
  const std::size_t available =
      pos >= file.size ? 0 : std::min(wanted, file.size - pos);
  const std::size_t entries = h.map_start + available / entry;
  if (entries > 256) {
    fail(ErrorKind::kDecode, name, "TGA colour map of more than 256 entries");
  }
  for (std::size_t i = 0; i < h.map_start; ++i) {
    palette.rgb[i][0] = palette.rgb[i][1] = palette.rgb[i][2] = 0;
  }
  for (std::size_t i = h.map_start; i < entries; ++i) {
    const std::uint8_t* e = file.data + pos + (i - h.map_start) * entry;
    if (entry == 2) {
      unpack_bgr15(le16(e), palette.rgb[i]);
    } else {
      palette.rgb[i][0] = e[2];
      palette.rgb[i][1] = e[1];
      palette.rgb[i][2] = e[0];
    }
  }
  pos += available;
  return palette;
}

// Packed bits, rows padded to bytes.
void decode_bits(const Bytes& file, std::size_t pos, const TgaHeader& h,
                 RgbImage& image, const std::string& name) {
  const bool top_down = h.flags & 0x20;
  const bool mirrored = h.flags & 0x10;
  const std::size_t stride = (h.width + 7) / 8;
  const std::vector<std::uint8_t> packed =
      read_pixels(file, pos, h.height, stride, false, name);
  for (std::uint32_t y = 0; y < h.height; ++y) {
    std::uint8_t* out =
        image.row(static_cast<int>(top_down ? y : h.height - 1 - y));
    for (std::uint32_t x = 0; x < h.width; ++x) {
      const std::uint8_t bit = (packed[y * stride + x / 8] >> (7 - x % 8)) & 1;
      const std::uint32_t column = mirrored ? h.width - 1 - x : x;
      std::memset(out + 3 * column, bit ? 255 : 0, 3);
    }
  }
}

void decode_samples(const Bytes& file, std::size_t pos, const TgaHeader& h,
                    const Palette& palette, RgbImage& image,
                    const std::string& name) {
  const bool top_down = h.flags & 0x20;
  const bool mirrored = h.flags & 0x10;
  const std::size_t bytes = h.depth / 8;
  const std::vector<std::uint8_t> pixels = read_pixels(
      file, pos, std::size_t{h.width} * h.height, bytes, h.type & 8, name);
  for (std::uint32_t y = 0; y < h.height; ++y) {
    std::uint8_t* row =
        image.row(static_cast<int>(top_down ? y : h.height - 1 - y));
    const std::uint8_t* in = pixels.data() + std::size_t{y} * h.width * bytes;
    for (std::uint32_t x = 0; x < h.width; ++x, in += bytes) {
      std::uint8_t* out = row + 3 * (mirrored ? h.width - 1 - x : x);
      if (h.kind == Kind::kPalette) {
        std::memcpy(out, palette.rgb[in[0]], 3);
      } else if (h.kind == Kind::kGrey) {
        out[0] = out[1] = out[2] = in[0];  // 16-bit: grey, then alpha
      } else if (bytes == 2) {
        unpack_bgr15(le16(in), out);
      } else {
        out[0] = in[2];
        out[1] = in[1];
        out[2] = in[0];
      }
    }
  }
}

// Whether the pixel data can hold the image: raw data must be all there; a
// run-length packet gives at most 128 pixels.
void check_data_holds(const Bytes& file, std::size_t pos, const TgaHeader& h,
                      const std::string& name) {
  const std::uint64_t left = pos >= file.size ? 0 : file.size - pos;
  const std::uint64_t pixels = std::uint64_t{h.width} * h.height;
  if (h.depth == 1) {  // rows of packed bits, never run-length encoded here
    if (left < (std::uint64_t{h.width} + 7) / 8 * h.height) {
      fail(ErrorKind::kDecode, name,
           "TGA pixel data ends before the image (truncated)");
    }
    return;
  }
  const std::uint64_t bytes = h.depth / 8;
  if (!(h.type & 8)) {
    if (left < pixels * bytes) {
      fail(ErrorKind::kDecode, name,
           "TGA pixel data ends before the image (truncated)");
    }
    return;
  }
  if (left < (pixels + 127) / 128 * (1 + bytes)) {
    fail(ErrorKind::kDecode, name,
         "TGA run-length data ends before the image (truncated)");
  }
}

class TgaReader : public ImageReader {
 public:
  TgaReader(const EncodedImage& file, const TgaHeader& header)
      : ImageReader({header.width, header.height}),
        file_(file),
        header_(header) {}

  RgbImage decode() override {
    const Bytes file{file_.data, file_.size};
    std::size_t pos = 18 + std::size_t{header_.id_length};
    const Palette palette = read_colour_map(file, header_, pos, file_.name);
    if (header_.depth == 1 && (header_.type & 8)) {
      fail(ErrorKind::kUnsupportedFormat, file_.name,
           "run-length encoded 1-bit TGA");
    }
    check_image_size(header_.width, header_.height, file_.name);
    check_data_holds(file, pos, header_, file_.name);
    RgbImage image = new_rgb_image(header_.width, header_.height, file_.name);
    if (header_.depth == 1) {
      decode_bits(file, pos, header_, image, file_.name);
    } else {
      decode_samples(file, pos, header_, palette, image, file_.name);
    }
    return image;
  }

 private:
  EncodedImage file_;
  TgaHeader header_;
};

// TGA has no magic number: these are the checks PIL's TgaImagePlugin makes
// before it takes a file for TGA.
bool sniff(const std::uint8_t* data, std::size_t size) {
  if (size < 18) return false;
  const std::uint8_t type = data[2], depth = data[16];
  return data[1] <= 1 && le16(data + 12) > 0 && le16(data + 14) > 0 &&
         (depth == 1 || depth == 8 || depth == 16 || depth == 24 ||
          depth == 32) &&
         (type == 1 || type == 2 || type == 3 || type == 9 || type == 10 ||
          type == 11);
}

std::unique_ptr<ImageReader> open(const EncodedImage& file,
                                  const DecodeOptions&) {
  return std::make_unique<TgaReader>(
      file, read_header(file.data, file.size, file.name));
}

}  // namespace

const ImageFormat& tga_format() {
  static const ImageFormat format{
      "TGA", {"tga", "icb", "vda", "vst"}, sniff, open};
  return format;
}

}  // namespace resnet_cli::detail
