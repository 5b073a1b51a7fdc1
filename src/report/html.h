// What the report's pages share (internal to report/): HTML escaping,
// numbers, and thumbnails as data: URIs.
#pragma once

#include <string>
#include <string_view>

#include "image/rgb_image.h"

namespace resnet_cli::detail {

// `text` with & < > " ' as entities.
std::string escape(std::string_view text);

// `value` with `decimals` digits after the point.
std::string number(double value, int decimals);

// `image` shrunk (never enlarged) so that its longer side is `size` pixels,
// by Pillow's antialiased bilinear filter.
RgbImage thumbnail_image(const RgbImage& image, int size);

// `image` as a JPEG (quality 82) data: URI; `name` is the file it came from,
// for the error message.
std::string jpeg_data_uri(const RgbImage& image, const std::string& name);

// thumbnail_image() as a JPEG data: URI.
std::string thumbnail_uri(const RgbImage& image, int size,
                          const std::string& name);

}  // namespace resnet_cli::detail
