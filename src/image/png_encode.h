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
  // Speed over size: the Up filter on every row and zlib's Huffman coding
  // alone (Z_HUFFMAN_ONLY), instead of libpng's adaptive filters and level
  // 6's string matching. Measured on a 500x375 photo's overlay: 3.9 ms CPU
  // against 28.9 ms for the Up filter at level 6 (and 11.4 ms for level 1
  // with adaptive filters), the file 0.4% larger.
  bool fast = false;
};

// The image as an 8-bit RGB PNG file's bytes. `name` is for messages only.
// Throws Error(kOutput).
std::string encode_png(const RgbImage& image, const std::string& name,
                       const PngOptions& options = {});

}  // namespace resnet_cli::detail
