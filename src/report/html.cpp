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

std::string thumbnail_uri(const RgbImage& image, int size,
                          const std::string& name) {
  const int longer = std::max(image.width, image.height);
  const double scale = std::min(1.0, static_cast<double>(size) / longer);
  const int width = std::max(1, static_cast<int>(image.width * scale + 0.5));
  const int height = std::max(1, static_cast<int>(image.height * scale + 0.5));
  const RgbImage small =
      scale < 1.0 ? pil_resize(image, width, height, Interpolation::kBilinear)
                  : image;
  return "data:image/jpeg;base64," +
         base64_encode(encode_jpeg(small, 82, name));
}

}  // namespace resnet_cli::detail
