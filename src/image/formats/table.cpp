// The table of image formats (image/image_format.h). A format is its file
// in this folder, which defines the function named in its row, and the row.
#include <cstring>

#include "image/image_format.h"

namespace resnet_cli {

namespace detail {
const ImageFormat& jpeg_format();      // jpeg.cpp
const ImageFormat& png_format();       // png.cpp
const ImageFormat& gif_format();       // gif.cpp
const ImageFormat& bmp_format();       // bmp.cpp
const ImageFormat& tiff_format();      // tiff.cpp
const ImageFormat& webp_format();      // webp.cpp
const ImageFormat& pnm_format();       // pnm.cpp
const ImageFormat& jpeg2000_format();  // jpeg2000.cpp
const ImageFormat& ico_format();       // ico.cpp
const ImageFormat& dib_format();       // bmp.cpp
const ImageFormat& tga_format();       // tga.cpp
}  // namespace detail

const std::vector<const ImageFormat*>& image_formats() {
  // Sniffing order: magic numbers first; an ICO directory or a DIB header
  // only when no magic number matched; TGA, which has none, last.
  static const std::vector<const ImageFormat*> table = {
      &detail::jpeg_format(), &detail::png_format(),
      &detail::gif_format(),  &detail::bmp_format(),
      &detail::tiff_format(), &detail::webp_format(),
      &detail::pnm_format(),  &detail::jpeg2000_format(),
      &detail::ico_format(),  &detail::dib_format(),
      &detail::tga_format(),
  };
  return table;
}

const ImageFormat* sniff_image_format(const std::uint8_t* data,
                                      std::size_t size) {
  for (const ImageFormat* format : image_formats()) {
    if (format->sniff(data, size)) return format;
  }
  return nullptr;
}

const char* unread_image_format(const std::uint8_t* data, std::size_t size) {
  auto starts_with = [&](const char* magic, std::size_t length) {
    return size >= length && std::memcmp(data, magic, length) == 0;
  };
  if (starts_with("\x76\x2F\x31\x01", 4)) return "OpenEXR";
  if (starts_with("#?RADIANCE", 10) || starts_with("#?RGBE", 6)) {
    return "Radiance HDR";
  }
  return nullptr;
}

std::vector<std::string> image_format_extensions() {
  std::vector<std::string> all;
  for (const ImageFormat* format : image_formats()) {
    all.insert(all.end(), format->extensions.begin(), format->extensions.end());
  }
  return all;
}

}  // namespace resnet_cli
