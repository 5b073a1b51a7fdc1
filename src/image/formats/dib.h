// A Windows DIB, as BMP, DIB (clipboard) and ICO/CUR files hold it, read as
// PIL 9.4's BmpImagePlugin reads it (bmp.cpp). Internal to the image module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "image/formats/bytes.h"
#include "image/rgb_image.h"

namespace resnet_cli::detail {

struct DibHeader {
  std::uint32_t header_size = 0;
  std::uint64_t width = 0;
  std::uint64_t height = 0;  // of the image (an icon's is halved)
  bool top_down = false;
  std::uint32_t bits = 0;
  std::uint32_t compression = 0;
  std::uint64_t colors = 0;     // palette entries
  std::size_t entry_size = 4;   // bytes per palette entry (3 for OS/2)
  std::size_t palette_at = 0;   // where the colour table starts
  std::uint32_t masks[4] = {};  // R, G, B, A bit fields
};

// The BITMAPINFOHEADER (or OS/2 header) at `at`. An icon's DIB declares
// twice its height (the AND mask follows the colours): `icon` halves it, as
// PIL does. Throws kDecode for a header cut short, kUnsupportedFormat for a
// header type PIL does not read.
DibHeader read_dib_header(const Bytes& file, std::size_t at,
                          const std::string& name, bool icon = false);

// The pixels of the DIB whose header `h` is at `header_at`: at `pixels_at`,
// or right after the palette when `pixels_at` is 0. The data is checked to
// hold the image before it is allocated.
RgbImage decode_dib(const Bytes& file, const DibHeader& h,
                    std::size_t header_at, std::size_t pixels_at,
                    const std::string& name);

}  // namespace resnet_cli::detail
