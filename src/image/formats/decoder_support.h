// What the format files under src/image/formats/ share. Internal to the
// image module.
//
// Contract of every reader: the input is hostile. Every length and offset is
// checked against the data before it is read, every size before anything
// that size is allocated; where a format bounds how much image a byte can
// hold, the data is checked to be there before the image is allocated.
// Failures throw Error naming the file: kDecode for a damaged or truncated
// file (never a blank or partial image), kUnsupportedFormat for a variant PIL
// does not read either, kTooLarge for a decompression bomb. Nothing is
// printed; libraries' messages are captured or silenced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "base/error.h"
#include "image/image_format.h"
#include "image/rgb_image.h"

namespace resnet_cli::detail {

[[noreturn]] inline void fail(ErrorKind kind, const std::string& name,
                              const std::string& reason) {
  throw Error(kind, name + ": " + reason);
}

// A colour table as Pillow's palette images hold one: 256 entries, those the
// file does not give are a grey ramp (entry i is (i, i, i)), which is what an
// out-of-range index gets.
struct Palette {
  std::uint8_t rgb[256][3];
  Palette() {
    for (int i = 0; i < 256; ++i) {
      rgb[i][0] = rgb[i][1] = rgb[i][2] = static_cast<std::uint8_t>(i);
    }
  }
};

// Pillow's BGR;15 unpacker (16-bit BMP and TGA pixels, TGA palettes): five
// bits each, blue lowest, each scaled by 255 / 31 and truncated.
inline void unpack_bgr15(std::uint32_t pixel, std::uint8_t* rgb) {
  rgb[0] = static_cast<std::uint8_t>(((pixel >> 10) & 31) * 255 / 31);
  rgb[1] = static_cast<std::uint8_t>(((pixel >> 5) & 31) * 255 / 31);
  rgb[2] = static_cast<std::uint8_t>((pixel & 31) * 255 / 31);
}

// Pillow's MULDIV255: a * b / 255, rounded (its CMYK conversion).
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

// Throws kTooLarge when an image of this size cannot be held (the
// dimensions come from a file), kDecode when it is empty.
void check_image_size(std::uint64_t width, std::uint64_t height,
                      const std::string& name);

// An image of the given size, zero-filled; checked as check_image_size
// checks it.
RgbImage new_rgb_image(std::uint64_t width, std::uint64_t height,
                       const std::string& name);

// An image of the given size whose rows are appended as they are decoded:
// its memory is reserved, not touched, so that a file whose data ends early
// costs what was decoded, not what the header claims. Checked as
// check_image_size checks it.
RgbImage reserve_rgb_image(std::uint64_t width, std::uint64_t height,
                           const std::string& name);

// A reader whose header gave the size but whose data then failed: decode()
// throws `error`, after --max-pixels was checked on the size (so a huge
// header is too_large whatever follows it).
class FailedReader : public ImageReader {
 public:
  FailedReader(ImageSize size, Error error)
      : ImageReader(size), error_(std::move(error)) {}
  RgbImage decode() override { throw error_; }

 private:
  Error error_;
};

}  // namespace resnet_cli::detail
