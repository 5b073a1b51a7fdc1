// EXIF orientation: read from a JPEG's APP1 segment and applied as PIL's
// ImageOps.exif_transpose does (--exif apply).
#pragma once

#include <cstddef>
#include <cstdint>

#include "image/rgb_image.h"

namespace resnet_cli {

// The Orientation tag (0x0112) of a JPEG's first Exif segment: 1 to 8, or 1
// when there is none or it is malformed.
int jpeg_exif_orientation(const std::uint8_t* data, std::size_t size);

// Transposes `image` for `orientation` as exif_transpose does (2: mirror, 3:
// rotate 180, 4: flip, 5: transpose, 6: rotate 90 clockwise, 7: transverse,
// 8: rotate 90 counter-clockwise); other values leave it unchanged.
RgbImage apply_exif_orientation(RgbImage image, int orientation);

}  // namespace resnet_cli
