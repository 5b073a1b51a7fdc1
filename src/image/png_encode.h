// PNG encoding with libpng, for the crops preprocess --png writes. Internal
// to the image module.
#pragma once

#include <string>

#include "image/rgb_image.h"

namespace resnet_cli::detail {

// The image as an 8-bit RGB PNG file's bytes. `name` is for messages only.
// Throws Error(kOutput).
std::string encode_png(const RgbImage& image, const std::string& name);

}  // namespace resnet_cli::detail
