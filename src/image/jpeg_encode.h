// JPEG encoding with libjpeg-turbo, for the report's thumbnails. Internal to
// the image module.
#pragma once

#include <string>

#include "image/rgb_image.h"

namespace resnet_cli::detail {

// The image as a baseline JPEG file's bytes (quality 0-100). Throws
// Error(kOutput) naming `name` when libjpeg fails.
std::string encode_jpeg(const RgbImage& image, int quality,
                        const std::string& name);

}  // namespace resnet_cli::detail
