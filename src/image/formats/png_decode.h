// PNG decoding with libpng, driven to give what Pillow's PNG plugin and
// convert("RGB") give. Internal to the image module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "image/rgb_image.h"

namespace resnet_cli::detail {

// RGB as Image.open(f).convert("RGB") gives it: palette expanded (its
// transparency ignored), alpha dropped, gray replicated, 1-, 2- and 4-bit
// gray scaled to 8 bits, 16-bit gray clipped to 255 (Pillow's mode "I"),
// other 16-bit images reduced to their high byte. The caller checks the size
// the header declares first (image_header.h). libpng's messages are never
// printed. Throws Error (decode).
RgbImage decode_png(const std::uint8_t* data, std::size_t size,
                    const std::string& name);

}  // namespace resnet_cli::detail
