#include "serve/decode_cost.h"

#include <limits>
#include <optional>

#include "image/image_header.h"

namespace resnet_cli::server {

namespace {

// Bytes per declared pixel that each decoder allocates at its peak, the
// RGB result included, rounded up from its allocations (the worst layout
// the decoder takes) and checked against the peak RSS of `preprocess` on
// 24-megapixel files (README: Serving, "Memory"). 0: refused before
// decoding.
std::uint64_t bytes_per_pixel(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return 16;  // progressive: 2-byte coefficients of up to 4 components,
                  // the CMYK scanlines, the RGB result (measured 12.0)
    case ImageFormat::kPng:
      return 6;  // the rows (16-bit grey kept: 2), the RGB result (5.0)
    case ImageFormat::kTiff:
      return 12;  // samples of up to 8 bytes a pixel, the RGB result (7.0)
    case ImageFormat::kWebp:
      return 20;  // lossless: libwebp's ARGB and its caches (15.0)
    case ImageFormat::kGif:
      return 6;  // one row of indices, the RGB result (3.0)
    case ImageFormat::kBmp:
    case ImageFormat::kDib:
    case ImageFormat::kIco:
      return 8;  // RLE indices or a PNG inside, the RGB result (3.0)
    case ImageFormat::kTga:
      return 8;  // the unpacked pixels, the RGB result (6.0)
    case ImageFormat::kPnm:
      return 32;  // plain (ASCII) samples read as 8-byte values (binary 6.0)
    case ImageFormat::kJpeg2000:
      return 28;  // OpenJPEG's int32 per component, up to 4 (17.6 for 3)
    case ImageFormat::kUnknown:
    case ImageFormat::kOpenExr:
    case ImageFormat::kHdr:
      break;
  }
  return 0;
}

// The resized copy (short side --resize) and the crop, whatever the image.
constexpr std::uint64_t kFixedBytes = std::uint64_t{4} << 20;

}  // namespace

DecodeCost decode_cost(const std::uint8_t* data, std::size_t size) {
  const ImageFormat format = sniff_image_format(data, size);
  const std::uint64_t per_pixel = bytes_per_pixel(format);
  if (per_pixel == 0) return {};
  // The one place serve reads an image's header.
  const std::optional<ImageSize> declared = read_image_size(format, data, size);
  if (!declared || declared->width == 0 || declared->height == 0) return {};
  DecodeCost cost;
  cost.width = declared->width;
  cost.height = declared->height;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  // Headers declare at most 2^32 x 2^32: the product fits, its bytes may not.
  const std::uint64_t pixels = cost.width * cost.height;
  cost.bytes = pixels > (kMax - kFixedBytes) / per_pixel
                   ? kMax
                   : pixels * per_pixel + kFixedBytes;
  return cost;
}

}  // namespace resnet_cli::server
