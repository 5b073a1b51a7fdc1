// TGA (Truevision Targa), read as PIL 9.4's TgaImagePlugin reads it: colour
// mapped 8-bit (palette of 15, 24 or 32-bit entries, alpha dropped), true
// colour 16 (5-5-5), 24 and 32-bit (alpha dropped), grey 1, 8 and 16-bit
// (grey + alpha), raw or run-length encoded (runs may cross rows), any of
// the four orientations. What PIL cannot decode is refused.
#include <cstring>
#include <vector>

#include "image/formats/bytes.h"
#include "image/formats/decoders.h"

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

}  // namespace

namespace {

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
  if (h.type & 8) {
    fail(ErrorKind::kUnsupportedFormat, name, "run-length encoded 1-bit TGA");
  }
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

}  // namespace

RgbImage decode_tga(const std::uint8_t* data, std::size_t size,
                    const std::string& name) {
  const Bytes file{data, size};
  const TgaHeader header = read_header(data, size, name);
  std::size_t pos = 18 + std::size_t{header.id_length};
  const Palette palette = read_colour_map(file, header, pos, name);
  RgbImage image = new_rgb_image(header.width, header.height, name);
  if (header.depth == 1) {
    decode_bits(file, pos, header, image, name);
  } else {
    decode_samples(file, pos, header, palette, image, name);
  }
  return image;
}

}  // namespace resnet_cli::detail
