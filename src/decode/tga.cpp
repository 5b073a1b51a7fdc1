// TGA (Truevision Targa), read as PIL 9.4's TgaImagePlugin reads it: colour
// mapped 8-bit (palette of 15, 24 or 32-bit entries, alpha dropped), true
// colour 16 (5-5-5), 24 and 32-bit (alpha dropped), grey 1, 8 and 16-bit
// (grey + alpha), raw or run-length encoded (runs may cross rows), any of
// the four orientations. What PIL cannot decode is refused.
#include <cstring>
#include <vector>

#include "decode/bytes.h"
#include "decode/decoders.h"

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

RgbImage decode_tga(const std::uint8_t* data, std::size_t size,
                    const std::string& name) {
  const Bytes file{data, size};
  if (size < 18) fail(ErrorKind::kDecode, name, "truncated TGA header");
  const std::uint32_t id_length = data[0];
  const std::uint32_t map_type = data[1];
  const std::uint32_t type = data[2];
  const std::uint32_t map_start = le16(data + 3);
  const std::uint32_t map_length = le16(data + 5);
  const std::uint32_t map_depth = data[7];
  const std::uint32_t width = le16(data + 12);
  const std::uint32_t height = le16(data + 14);
  const std::uint32_t depth = data[16];
  const std::uint32_t flags = data[17];
  Kind kind;
  if (type == 3 || type == 11) {
    kind = Kind::kGrey;
  } else if (type == 1 || type == 9) {
    kind = Kind::kPalette;
  } else if (type == 2 || type == 10) {
    kind = Kind::kTrueColour;
  } else {
    fail(ErrorKind::kUnsupportedFormat, name, "unknown TGA image type");
  }
  // PIL's MODES table: the depths each kind decodes.
  const bool decodable =
      (kind == Kind::kPalette && depth == 8) ||
      (kind == Kind::kGrey && (depth == 1 || depth == 8 || depth == 16)) ||
      (kind == Kind::kTrueColour &&
       (depth == 16 || depth == 24 || depth == 32));
  if (!decodable || map_type > 1) {
    fail(ErrorKind::kUnsupportedFormat, name,
         "TGA with " + std::to_string(depth) + "-bit pixels of type " +
             std::to_string(type) + " (PIL cannot decode it either)");
  }
  std::size_t pos = 18 + std::size_t{id_length};
  Palette palette;
  if (map_type == 1 &&
      (map_depth == 16 || map_depth == 24 || map_depth == 32)) {
    // PIL prepends `map_start` black entries and reads what is there.
    const std::size_t entry = map_depth / 8;
    const std::size_t wanted = map_length * entry;
    const std::size_t available =
        pos >= size ? 0 : std::min(wanted, size - pos);
    const std::size_t entries = map_start + available / entry;
    if (entries > 256) {
      fail(ErrorKind::kDecode, name, "TGA colour map of more than 256 entries");
    }
    for (std::size_t i = 0; i < map_start; ++i) {
      palette.rgb[i][0] = palette.rgb[i][1] = palette.rgb[i][2] = 0;
    }
    for (std::size_t i = map_start; i < entries; ++i) {
      const std::uint8_t* e = data + pos + (i - map_start) * entry;
      if (entry == 2) {
        unpack_bgr15(le16(e), palette.rgb[i]);
      } else {
        palette.rgb[i][0] = e[2];
        palette.rgb[i][1] = e[1];
        palette.rgb[i][2] = e[0];
      }
    }
    pos += available;
  }

  RgbImage image = new_rgb_image(width, height, name);
  const bool top_down = flags & 0x20;
  const bool mirrored = flags & 0x10;
  const bool rle = type & 8;
  if (depth == 1) {  // packed bits, rows padded to bytes
    if (rle) {
      fail(ErrorKind::kUnsupportedFormat, name, "run-length encoded 1-bit TGA");
    }
    const std::size_t stride = (width + 7) / 8;
    const std::vector<std::uint8_t> packed =
        read_pixels(file, pos, height, stride, false, name);
    for (std::uint32_t y = 0; y < height; ++y) {
      std::uint8_t* out =
          image.row(static_cast<int>(top_down ? y : height - 1 - y));
      for (std::uint32_t x = 0; x < width; ++x) {
        const std::uint8_t bit =
            (packed[y * stride + x / 8] >> (7 - x % 8)) & 1;
        const std::uint32_t column = mirrored ? width - 1 - x : x;
        std::memset(out + 3 * column, bit ? 255 : 0, 3);
      }
    }
    return image;
  }
  const std::size_t bytes = depth / 8;
  const std::vector<std::uint8_t> pixels =
      read_pixels(file, pos, std::size_t{width} * height, bytes, rle, name);
  for (std::uint32_t y = 0; y < height; ++y) {
    std::uint8_t* row =
        image.row(static_cast<int>(top_down ? y : height - 1 - y));
    const std::uint8_t* in = pixels.data() + std::size_t{y} * width * bytes;
    for (std::uint32_t x = 0; x < width; ++x, in += bytes) {
      std::uint8_t* out = row + 3 * (mirrored ? width - 1 - x : x);
      if (kind == Kind::kPalette) {
        std::memcpy(out, palette.rgb[in[0]], 3);
      } else if (kind == Kind::kGrey) {
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
  return image;
}

}  // namespace resnet_cli::detail
