// Image decoding into the RGB that PIL's Image.open(f).convert("RGB") gives.
//
// Decoding is OpenCV's (libpng, libtiff, libwebp, ...) except for JPEG, which
// goes to libjpeg-turbo (the library OpenCV wraps) directly: that gives CMYK
// exactly as Pillow converts it, tells truncated files from whole ones, and
// keeps libjpeg's warnings off stderr. The conversion to RGB
// follows Pillow: gray replicated, alpha dropped (not composited), palette
// expanded, 16-bit gray clipped to 255 as Pillow's "I" mode does, other
// 16-bit images reduced to their high byte, CMYK converted by the decoder.
// EXIF orientation is ignored unless asked for, as PIL ignores it.
//
// Failures throw Error with a per-input kind (not_found, unsupported_format,
// decode, ...) and a message naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "resnet_cli/image_header.h"
#include "resnet_cli/rgb_image.h"

namespace resnet_cli {

struct DecodeOptions {
  bool apply_exif_orientation = false;  // --exif apply
  // Images with more pixels are refused (too_large) before decoding; this
  // is Pillow's MAX_IMAGE_PIXELS.
  std::uint64_t max_pixels = 89'478'485;
  // Decode truncated JPEGs (the missing part grey) with a warning instead of
  // refusing them, as PIL's LOAD_TRUNCATED_IMAGES does.
  bool allow_truncated = false;
};

RgbImage decode_image_file(const std::filesystem::path& path,
                           const DecodeOptions& options = {});

// A file, or all of stdin's bytes for "-".
RgbImage decode_image_input(const std::string& path,
                            const DecodeOptions& options = {});

// `name` is used in messages only (a path, or "-" for stdin).
RgbImage decode_image_bytes(const std::uint8_t* data, std::size_t size,
                            const std::string& name,
                            const DecodeOptions& options = {});

// Writes `image` as an 8-bit RGB PNG. Throws Error(kOutput).
void write_png(const RgbImage& image, const std::filesystem::path& path);

}  // namespace resnet_cli
