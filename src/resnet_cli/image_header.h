// What an image file is, read from its first bytes and its header alone:
// the format by its magic number (never by its extension) and the size it
// claims, so that a hostile file is refused before any pixel is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace resnet_cli {

enum class ImageFormat {
  kUnknown,
  kJpeg,
  kPng,
  kBmp,
  kTiff,
  kWebp,
  kGif,
  kPnm,
  kJpeg2000,
  kOpenExr,
  kHdr,
};

const char* image_format_name(ImageFormat format);

// The format named by the file's first bytes.
ImageFormat sniff_image_format(const std::uint8_t* data, std::size_t size);

struct ImageSize {
  std::uint64_t width = 0;   // pixels
  std::uint64_t height = 0;  // pixels
};

// The width and height the header of a PNG, BMP, TIFF, WebP, PNM, GIF,
// JPEG or JPEG 2000 file declares; nullopt when the header is incomplete or
// malformed. Reads only the header; never trusts a length past `size`.
std::optional<ImageSize> read_image_size(ImageFormat format,
                                         const std::uint8_t* data,
                                         std::size_t size);

}  // namespace resnet_cli
