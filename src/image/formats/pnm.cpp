// The PBM/PGM/PPM family (P1-P6), read as PIL 9.4's PpmImagePlugin reads
// it: plain (ASCII) and raw, any maxval below 65536. Samples are scaled to
// 8 bits by round(value / maxval * 255) (Python's rounding), except where
// Pillow keeps a wider integer: grey with maxval above 255 is mode "I"
// (scaled to 16 bits, or raw 16-bit at maxval 65535), which convert("RGB")
// clips to 255. Short data and out-of-range values are errors, as in PIL.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "image/formats/bytes.h"
#include "image/formats/decoder_support.h"

namespace resnet_cli::detail {

namespace {

bool is_space(std::uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

struct Header {
  char kind = 0;  // '1'..'6'
  std::uint64_t width = 0, height = 0, maxval = 1;
  std::size_t data_at = 0;
};

// PIL's _read_token: whitespace skipped, '#' to the end of its line skipped,
// at most 10 characters, one whitespace character after it consumed.
std::string read_token(const Bytes& file, std::size_t* pos,
                       const std::string& name) {
  std::string token;
  while (token.size() <= 10 && *pos < file.size) {
    const std::uint8_t c = file.data[(*pos)++];
    if (is_space(c)) {
      if (token.empty()) continue;
      break;
    }
    if (c == '#') {
      while (*pos < file.size && file.data[*pos] != '\r' &&
             file.data[*pos] != '\n') {
        ++*pos;
      }
      if (*pos < file.size) ++*pos;
      continue;
    }
    token += static_cast<char>(c);
  }
  if (token.empty()) fail(ErrorKind::kDecode, name, "PNM header ends early");
  if (token.size() > 10)
    fail(ErrorKind::kDecode, name, "PNM header token too long");
  return token;
}

std::uint64_t number(const std::string& token, const std::string& name) {
  std::uint64_t value = 0;
  for (const char c : token) {
    if (c < '0' || c > '9') {
      fail(ErrorKind::kDecode, name, "PNM header holds '" + token + "'");
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

Header read_header(const Bytes& file, const std::string& name) {
  Header h;
  if (file.size < 3 || file.data[0] != 'P' || file.data[1] < '1' ||
      file.data[1] > '6' || !is_space(file.data[2])) {
    fail(ErrorKind::kUnsupportedFormat, name, "not a P1-P6 PNM file");
  }
  h.kind = static_cast<char>(file.data[1]);
  std::size_t pos = 3;
  h.width = number(read_token(file, &pos, name), name);
  h.height = number(read_token(file, &pos, name), name);
  if (h.kind != '1' && h.kind != '4') {
    h.maxval = number(read_token(file, &pos, name), name);
    if (h.maxval == 0 || h.maxval >= 65536) {
      fail(ErrorKind::kDecode, name,
           "PNM maxval must be greater than 0 and less than 65536");
    }
  }
  h.data_at = pos;
  return h;
}

// Python's round(value / maxval * out_max): the same double operations,
// rounded half to even.
std::uint32_t scale(std::uint64_t value, std::uint64_t maxval,
                    std::uint32_t out_max) {
  const double scaled =
      static_cast<double>(value) / static_cast<double>(maxval) * out_max;
  const double rounded = std::nearbyint(scaled);  // default mode: to even
  return static_cast<std::uint32_t>(std::min<double>(rounded, out_max));
}

// The 8-bit value convert("RGB") gives a sample of this header's image.
std::uint8_t to_8bit(std::uint64_t value, const Header& h, bool raw) {
  const bool wide_grey = (h.kind == '2' || h.kind == '5') && h.maxval > 255;
  if (wide_grey) {  // mode "I", clipped by convert("RGB")
    const std::uint32_t v = raw && h.maxval == 65535
                                ? static_cast<std::uint32_t>(value)
                                : scale(value, h.maxval, 65535);
    return static_cast<std::uint8_t>(v > 255 ? 255 : v);
  }
  if (raw && h.maxval == 255) return static_cast<std::uint8_t>(value);
  return static_cast<std::uint8_t>(scale(value, h.maxval, 255));
}

// Plain (ASCII) samples: decimal tokens, '#' comments anywhere.
std::vector<std::uint64_t> plain_samples(const Bytes& file, const Header& h,
                                         std::size_t count,
                                         const std::string& name) {
  std::vector<std::uint64_t> out;
  out.reserve(count);
  std::size_t pos = h.data_at;
  while (out.size() < count && pos < file.size) {
    const std::uint8_t c = file.data[pos];
    if (is_space(c)) {
      ++pos;
    } else if (c == '#') {
      while (pos < file.size && file.data[pos] != '\n' &&
             file.data[pos] != '\r')
        ++pos;
    } else if (h.kind == '1') {  // one character a sample, no separator needed
      if (c != '0' && c != '1') {
        fail(ErrorKind::kDecode, name, "invalid token in plain PBM data");
      }
      out.push_back(c == '1' ? 0 : 255);
      ++pos;
    } else {
      std::string token;
      while (pos < file.size && !is_space(file.data[pos]) &&
             file.data[pos] != '#') {
        token += static_cast<char>(file.data[pos++]);
        if (token.size() > 10) {
          fail(ErrorKind::kDecode, name, "token too long in plain PNM data");
        }
      }
      const std::uint64_t value = number(token, name);
      if (value > h.maxval) {
        fail(ErrorKind::kDecode, name, "PNM sample above maxval");
      }
      out.push_back(value);
    }
  }
  if (out.size() < count) {
    fail(ErrorKind::kDecode, name,
         "PNM data ends before the image (truncated)");
  }
  return out;
}

// The samples are in the file: raw ones all of them, plain ones at least a
// character each (P2, P3: and a separator between two).
void check_data_holds(const Bytes& file, const Header& h,
                      const std::string& name) {
  const std::uint64_t left = h.data_at >= file.size ? 0 : file.size - h.data_at;
  const std::uint64_t pixels = h.width * h.height;
  const std::uint64_t bands = h.kind == '3' || h.kind == '6' ? 3 : 1;
  std::uint64_t needed = 0;
  switch (h.kind) {
    case '1':
      needed = pixels;
      break;
    case '2':
    case '3':
      needed = 2 * pixels * bands - 1;
      break;
    case '4':
      needed = (h.width + 7) / 8 * h.height;
      break;
    default:
      needed = pixels * bands * (h.maxval < 256 ? 1 : 2);
      break;
  }
  if (left < needed) {
    fail(ErrorKind::kDecode, name,
         std::string(h.kind == '4' ? "PBM" : "PNM") +
             " data ends before the image (truncated)");
  }
}

RgbImage decode_pixels(const Bytes& file, const Header& h,
                       const std::string& name) {
  const std::uint8_t* data = file.data;
  RgbImage image = new_rgb_image(h.width, h.height, name);
  const std::size_t width = static_cast<std::size_t>(h.width);
  const std::size_t height = static_cast<std::size_t>(h.height);
  const std::size_t pixels = width * height;
  const int bands = h.kind == '3' || h.kind == '6' ? 3 : 1;
  if (h.kind == '4') {  // packed bits, 1 is black, rows padded to bytes
    const std::size_t stride = (width + 7) / 8;
    for (std::size_t y = 0; y < height; ++y) {
      const std::uint8_t* in = data + h.data_at + y * stride;
      std::uint8_t* out = image.row(static_cast<int>(y));
      for (std::size_t x = 0; x < width; ++x) {
        std::memset(out + 3 * x, (in[x / 8] >> (7 - x % 8)) & 1 ? 0 : 255, 3);
      }
    }
    return image;
  }
  const std::size_t count = pixels * bands;
  std::vector<std::uint8_t> values(count);
  if (h.kind <= '3') {
    const std::vector<std::uint64_t> samples =
        plain_samples(file, h, count, name);
    for (std::size_t i = 0; i < count; ++i) {
      values[i] = h.kind == '1' ? static_cast<std::uint8_t>(samples[i])
                                : to_8bit(samples[i], h, false);
    }
  } else {
    const std::size_t bytes = h.maxval < 256 ? 1 : 2;
    const std::uint8_t* in = data + h.data_at;
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint64_t v = bytes == 1 ? in[i] : be16(in + 2 * i);
      values[i] = to_8bit(v, h, true);
    }
  }
  for (std::size_t i = 0; i < pixels; ++i) {
    for (int c = 0; c < 3; ++c) {
      image.pixels[3 * i + c] = values[i * bands + (bands == 3 ? c : 0)];
    }
  }
  return image;
}

// The header is PIL's _read_token reading; its width and height are the
// size allocated (a comment ends at CR or LF, for both).
class PnmReader : public ImageReader {
 public:
  PnmReader(const EncodedImage& file, const Header& header)
      : ImageReader({header.width, header.height}),
        file_(file),
        header_(header) {}

  RgbImage decode() override {
    const Bytes file{file_.data, file_.size};
    check_image_size(header_.width, header_.height, file_.name);
    check_data_holds(file, header_, file_.name);
    return decode_pixels(file, header_, file_.name);
  }

 private:
  EncodedImage file_;
  Header header_;
};

bool sniff(const std::uint8_t* data, std::size_t size) {
  return size >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' &&
         (data[2] == ' ' || data[2] == '\n' || data[2] == '\r' ||
          data[2] == '\t');
}

std::unique_ptr<ImageReader> open(const EncodedImage& file,
                                  const DecodeOptions&) {
  const Bytes bytes{file.data, file.size};
  return std::make_unique<PnmReader>(file, read_header(bytes, file.name));
}

}  // namespace

const ImageFormat& pnm_format() {
  static const ImageFormat format{
      "PNM", {"pbm", "pgm", "ppm", "pnm"}, sniff, open};
  return format;
}

}  // namespace resnet_cli::detail
