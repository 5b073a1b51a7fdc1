// PNG encoding with libpng: the crops preprocess --png writes, and explain's
// overlays (which carry a text chunk saying what wrote them).
#pragma once

#include <string>
#include <vector>

#include "image/rgb_image.h"

namespace resnet_cli::detail {

// A tEXt chunk: Latin-1 keyword (1 to 79 bytes) and text.
struct PngText {
  std::string keyword;
  std::string text;
};

struct PngOptions {
  std::vector<PngText> text;  // written before the pixels
  // Speed over size: the Up filter on every row and zlib level 1 with
  // run-length matching only (Z_RLE), instead of libpng's adaptive filters
  // and level 6. Measured on 640x480 photos: about 10x faster than the
  // default, and files within a few percent of its size.
  bool fast = false;
};

// The image as an 8-bit RGB PNG file's bytes. `name` is for messages only.
// Throws Error(kOutput).
std::string encode_png(const RgbImage& image, const std::string& name,
                       const PngOptions& options = {});

}  // namespace resnet_cli::detail
