#include "report/html.h"

#include <algorithm>
#include <cstdio>

#include "image/jpeg_encode.h"
#include "image/preprocess.h"
#include "run/record_json.h"

namespace resnet_cli::detail {

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string number(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

RgbImage thumbnail_image(const RgbImage& image, int size) {
  const int longer = std::max(image.width, image.height);
  const double scale = std::min(1.0, static_cast<double>(size) / longer);
  if (scale >= 1.0) return image;
  const int width = std::max(1, static_cast<int>(image.width * scale + 0.5));
  const int height = std::max(1, static_cast<int>(image.height * scale + 0.5));
  return pil_resize(image, width, height, Interpolation::kBilinear);
}

std::string jpeg_data_uri(const RgbImage& image, const std::string& name) {
  return "data:image/jpeg;base64," +
         base64_encode(encode_jpeg(image, 82, name));
}

std::string thumbnail_uri(const RgbImage& image, int size,
                          const std::string& name) {
  return jpeg_data_uri(thumbnail_image(image, size), name);
}

}  // namespace resnet_cli::detail
