// The decoders resnet-cli drives itself, one file each under src/image/formats/:
// every one gives what PIL 9.4's Image.open(f).convert("RGB") gives for its
// format, or throws. Internal to the image module (image/decode.cpp dispatches).
//
// Contract shared by all of them: the caller has sniffed the format and
// checked the size the header declares against --max-pixels
// (image_header.h); the decoder still checks every length and offset against
// the data before reading, and every size before allocating, since the input
// is hostile. Failures throw Error naming `name`: kDecode for a damaged or
// truncated file (never a blank or partial image), kUnsupportedFormat for a
// variant PIL does not read either, kTooLarge for a decompression bomb.
// Nothing is printed; libraries' messages are captured or silenced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "image/rgb_image.h"

namespace resnet_cli::detail {

RgbImage decode_bmp(const std::uint8_t* data, std::size_t size,
                    const std::string& name);
// GIF's first frame through its palette (giflib).
RgbImage decode_gif(const std::uint8_t* data, std::size_t size,
                    const std::string& name);
// TIFF's first page (libtiff).
RgbImage decode_tiff(const std::uint8_t* data, std::size_t size,
                     const std::string& name);
// PIL's limits on a PNG's ancillary chunks, checked before decoding: throws
// kTooLarge for a zTXt, iTXt or iCCP chunk that inflates past 1 MiB or text
// past 64 MiB in all (PngImagePlugin's MAX_TEXT_CHUNK, MAX_TEXT_MEMORY),
// kDecode for an unknown compression method.
void check_png_chunks(const std::uint8_t* data, std::size_t size,
                      const std::string& name);
// PBM, PGM, PPM, plain and raw.
RgbImage decode_pnm(const std::uint8_t* data, std::size_t size,
                    const std::string& name);
// JPEG 2000, JP2 or a bare codestream (OpenJPEG).
RgbImage decode_jpeg2000(const std::uint8_t* data, std::size_t size,
                         const std::string& name);
// WebP's first frame (libwebp's animation decoder), alpha dropped.
RgbImage decode_webp(const std::uint8_t* data, std::size_t size,
                     const std::string& name);
RgbImage decode_tga(const std::uint8_t* data, std::size_t size,
                    const std::string& name);
// ICO and CUR: the largest image, as PIL picks it (BMP or PNG inside).
RgbImage decode_ico(const std::uint8_t* data, std::size_t size,
                    const std::string& name);

// A Windows DIB as BMP, ICO and CUR files hold it: the BITMAPINFOHEADER (or
// OS/2 header) at `header_at`, pixels at `pixels_at`, or right after the
// palette when `pixels_at` is 0. An icon's DIB declares twice its height
// (the AND mask follows the colours): `icon` halves it, as PIL does.
RgbImage decode_dib(const std::uint8_t* data, std::size_t size,
                    std::size_t header_at, std::size_t pixels_at,
                    const std::string& name, bool icon = false);

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

// An image of the given size, zero-filled; throws kTooLarge when it cannot
// be held (the dimensions come from a file).
RgbImage new_rgb_image(std::uint64_t width, std::uint64_t height,
                       const std::string& name);

[[noreturn]] inline void fail(ErrorKind kind, const std::string& name,
                              const std::string& reason) {
  throw Error(kind, name + ": " + reason);
}

}  // namespace resnet_cli::detail
