// JPEG decoding with libjpeg(-turbo), the library OpenCV and Pillow both use,
// driven the way Pillow drives it. Internal to the image module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "image/rgb_image.h"

namespace resnet_cli::detail {

struct JpegImage {
  RgbImage image;
  // The data ended before the image did; libjpeg filled the rest (grey).
  bool truncated = false;
};

// Decodes to RGB as Image.open(f).convert("RGB") does: YCbCr and RGB through
// libjpeg's colour conversion, gray replicated, CMYK/YCCK read as Pillow's
// "CMYK;I" and converted with Pillow's formula. The caller checks the size
// the header declares first (image_header.h). libjpeg's warnings are never
// printed. Throws Error (decode, unsupported_format).
JpegImage decode_jpeg(const std::uint8_t* data, std::size_t size,
                      const std::string& name);

}  // namespace resnet_cli::detail
