// Image decoding into the RGB that PIL 9.4's Image.open(f).convert("RGB")
// gives, bit for bit (README: Formats, for the measured exceptions).
//
// The format is read from the content, never the extension (the table of
// image/image_format.h), and the size its decoder's own header reading gives
// is checked against --max-pixels before any pixel is allocated. Each format
// goes to its own library or reader (src/image/formats/): JPEG to
// libjpeg-turbo, PNG to libpng, TIFF to libtiff (first page), GIF to giflib
// (first frame), WebP to libwebp, JPEG 2000 to OpenJPEG; BMP/DIB, TGA, ICO/CUR
// and PNM to readers of resnet-cli's own. The conversion to RGB follows Pillow:
// gray replicated, alpha dropped (not composited), palette expanded (a short
// palette continued by Pillow's grey ramp), CMYK by Pillow's formula,
// 16-bit gray clipped to 255 as Pillow's "I" modes are, other 16-bit
// samples reduced to their high byte. EXIF orientation is ignored unless
// asked for, as PIL ignores it (TIFF's own Orientation tag is applied, as
// PIL 9.4 applies it). No library prints; every failure is an exception.
//
// Failures throw Error with a per-input kind (unsupported_format, decode,
// too_large, ...) and a message naming the file: a damaged or truncated
// file is an error, never a blank or partly grey image (except truncated
// JPEGs under --allow-truncated, with a warning).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "image/image_format.h"
#include "image/rgb_image.h"

namespace resnet_cli {

// Pillow's decompression bomb check on a declared size: a warning naming
// `name` above `max_pixels`, Error(kTooLarge) above twice it, Error(kDecode)
// for an empty size. Video frames are checked by it too.
void check_pixel_count(const ImageSize& size, const std::string& name,
                       std::uint64_t max_pixels);

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
