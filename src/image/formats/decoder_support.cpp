#include "image/formats/decoder_support.h"

namespace resnet_cli::detail {

void check_image_size(std::uint64_t width, std::uint64_t height,
                      const std::string& name) {
  constexpr std::uint64_t kMaxSide = 1u << 30;
  if (width == 0 || height == 0) {
    fail(ErrorKind::kDecode, name, "the image is empty (0 pixels)");
  }
  if (width > kMaxSide || height > kMaxSide ||
      width * height > (std::uint64_t{1} << 32)) {
    fail(ErrorKind::kTooLarge, name,
         std::to_string(width) + "x" + std::to_string(height) +
             " pixels is too large to decode");
  }
}

RgbImage new_rgb_image(std::uint64_t width, std::uint64_t height,
                       const std::string& name) {
  check_image_size(width, height, name);
  RgbImage image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.pixels.assign(static_cast<std::size_t>(width * height * 3), 0);
  return image;
}

RgbImage reserve_rgb_image(std::uint64_t width, std::uint64_t height,
                           const std::string& name) {
  check_image_size(width, height, name);
  RgbImage image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.pixels.reserve(static_cast<std::size_t>(width * height * 3));
  return image;
}

}  // namespace resnet_cli::detail
