#include "serve/decode_cost.h"

#include <array>
#include <cstring>
#include <limits>
#include <memory>

#include "base/error.h"

namespace resnet_cli::server {

namespace {

// Bytes per declared pixel that each format's decoder allocates at its
// peak, the RGB result included, rounded up from its allocations (the worst
// layout the decoder takes) and checked against the peak RSS of
// `preprocess` on 24-megapixel files (README: Serving, "Memory"), by the
// table's names (image/image_format.h).
struct PerPixel {
  const char* format;
  std::uint64_t bytes;
};
constexpr std::array<PerPixel, 11> kPerPixel = {{
    // Progressive: 2-byte coefficients of up to 4 components, the CMYK
    // scanlines, the RGB result (measured 12.0).
    {"JPEG", 16},
    {"PNG", 6},  // the rows (16-bit grey kept: 2), the RGB result (5.0)
    {"GIF", 6},  // one row of indices, the RGB result (3.0)
    {"BMP", 8},  // RLE indices, the RGB result (3.0)
    {"DIB", 8},
    {"ICO", 8},    // a BMP or a PNG inside
    {"TIFF", 12},  // samples of up to 8 bytes a pixel, the RGB result (7.0)
    {"WebP", 20},  // lossless: libwebp's ARGB and its caches (15.0)
    {"PNM", 32},   // plain (ASCII) samples read as 8-byte values (raw 6.0)
    {"JPEG 2000", 28},  // OpenJPEG's int32 per component, up to 4 (17.6)
    {"TGA", 8},         // the unpacked pixels, the RGB result (6.0)
}};

// The resized copy (short side --resize) and the crop, whatever the image.
constexpr std::uint64_t kFixedBytes = std::uint64_t{4} << 20;

}  // namespace

std::optional<std::uint64_t> decode_bytes_per_pixel(const ImageFormat& format) {
  for (const PerPixel& entry : kPerPixel) {
    if (std::strcmp(entry.format, format.name) == 0) return entry.bytes;
  }
  return std::nullopt;
}

DecodeCost decode_cost(const std::uint8_t* data, std::size_t size,
                       const DecodeOptions& options) {
  const ImageFormat* format =
      size > 0 ? sniff_image_format(data, size) : nullptr;
  if (!format) return {};
  // A format missing from the table (a new row) is charged the most.
  const std::uint64_t per_pixel = decode_bytes_per_pixel(*format).value_or(32);
  // The one place serve reads an image's header: the decoder's own reader,
  // which allocates nothing of the image's size.
  std::unique_ptr<ImageReader> reader;
  try {
    reader = format->open(EncodedImage{data, size, "-"}, options);
  } catch (const Error&) {
    return {};  // the decoder refuses it the same way, before allocating
  }
  DecodeCost cost;
  cost.width = reader->size().width;
  cost.height = reader->size().height;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  // Headers declare at most 2^32 x 2^32: the product fits, its bytes may not.
  const std::uint64_t pixels = cost.width * cost.height;
  cost.bytes = pixels > (kMax - kFixedBytes) / per_pixel
                   ? kMax
                   : pixels * per_pixel + kFixedBytes;
  return cost;
}

}  // namespace resnet_cli::server
