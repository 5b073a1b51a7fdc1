// What an image file is, read from its first bytes and its header alone:
// the format by its magic number (never by its extension) and the size it
// claims, so that a hostile file is refused before any pixel is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
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
  kTga,
  kIco,  // ICO and CUR
  kDib,  // a BMP without its file header (clipboard)
};

const char* image_format_name(ImageFormat format);

// The format named by the file's first bytes. TGA has no magic number: a
// header that PIL's TgaImagePlugin would accept is TGA, checked last.
ImageFormat sniff_image_format(const std::uint8_t* data, std::size_t size);

struct ImageSize {
  std::uint64_t width = 0;   // pixels
  std::uint64_t height = 0;  // pixels
};

// The width and height of the image the decoder will produce, as the header
// of a PNG, BMP, TIFF, WebP, PNM, GIF (the screen, grown to the first
// frame), JPEG, JPEG 2000, TGA, or ICO/CUR (the image PIL picks, from its
// own header) file declares it; nullopt when the header is incomplete or
// malformed. Reads only headers; never trusts a length past `size`.
std::optional<ImageSize> read_image_size(ImageFormat format,
                                         const std::uint8_t* data,
                                         std::size_t size);

// Calls `visit(marker, payload, payload_size)` for each JPEG header segment
// before the image data, in file order, until it returns false. Bytes
// between segments are skipped to the next marker, as libjpeg skips them.
// Segments whose length runs past `size` end the walk.
void visit_jpeg_segments(
    const std::uint8_t* data, std::size_t size,
    const std::function<bool(std::uint8_t marker, const std::uint8_t* payload,
                             std::size_t payload_size)>& visit);

// The value of a SHORT or LONG tag in the first IFD of a TIFF structure (a
// TIFF file, or the payload of an Exif segment), or nullopt.
std::optional<std::uint32_t> tiff_first_ifd_tag(const std::uint8_t* tiff,
                                                std::size_t size,
                                                std::uint16_t tag);

}  // namespace resnet_cli
