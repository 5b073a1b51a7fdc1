// GIF with giflib: the first frame, as PIL 9.4's GifImagePlugin loads it
// and convert("RGB") expands it. The canvas is the logical screen, grown to
// hold the first frame when that reaches past it; pixels the frame does not
// cover are its transparent index when it has one, else index 0; indices go
// through the frame's local palette, else the global one, else are grey; a
// palette shorter than 256 entries continues as Pillow's grey ramp.
#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "image/formats/bytes.h"
#include "image/formats/decoders.h"

namespace resnet_cli::detail {

namespace {

int read_source(GifFileType* gif, GifByteType* out, int count) {
  return static_cast<int>(static_cast<MemoryReader*>(gif->UserData)
                              ->read(out, count < 0 ? 0 : count));
}

struct GifCloser {
  void operator()(GifFileType* gif) const {
    int error = 0;
    DGifCloseFile(gif, &error);
  }
};
using GifHandle = std::unique_ptr<GifFileType, GifCloser>;

[[noreturn]] void gif_error(const std::string& name, int code) {
  const char* message = GifErrorString(code);
  fail(ErrorKind::kDecode, name,
       std::string("cannot decode GIF: ") +
           (message ? message : "unknown giflib error"));
}

// Skips an extension's sub-blocks; returns the graphic control extension's
// transparent index through `transparency` when this is one.
void read_extension(GifFileType* gif, const std::string& name,
                    int* transparency) {
  int code = 0;
  GifByteType* block = nullptr;
  if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) {
    gif_error(name, gif->Error);
  }
  if (code == GRAPHICS_EXT_FUNC_CODE && block && block[0] >= 4) {
    if (block[1] & 1) *transparency = block[4];
  }
  while (block) {
    if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) {
      gif_error(name, gif->Error);
    }
  }
}

Palette palette_of(const ColorMapObject* map) {
  Palette palette;
  if (!map || !map->Colors) return palette;
  const int count = std::min(map->ColorCount, 256);
  for (int i = 0; i < count; ++i) {
    palette.rgb[i][0] = map->Colors[i].Red;
    palette.rgb[i][1] = map->Colors[i].Green;
    palette.rgb[i][2] = map->Colors[i].Blue;
  }
  return palette;
}

// The rows of an interlaced frame in the order the file stores them.
std::vector<int> row_order(int height, bool interlaced) {
  std::vector<int> rows;
  rows.reserve(static_cast<std::size_t>(height));
  if (!interlaced) {
    for (int y = 0; y < height; ++y) rows.push_back(y);
    return rows;
  }
  static const int start[] = {0, 4, 2, 1};
  static const int step[] = {8, 8, 4, 2};
  for (int pass = 0; pass < 4; ++pass) {
    for (int y = start[pass]; y < height; y += step[pass]) rows.push_back(y);
  }
  return rows;
}

}  // namespace

RgbImage decode_gif(const std::uint8_t* data, std::size_t size,
                    const std::string& name) {
  MemoryReader source{data, size};
  int error = 0;
  GifHandle gif(DGifOpen(&source, read_source, &error));
  if (!gif) gif_error(name, error);

  int transparency = -1;
  for (;;) {
    GifRecordType type = UNDEFINED_RECORD_TYPE;
    if (DGifGetRecordType(gif.get(), &type) == GIF_ERROR) {
      gif_error(name, gif->Error);
    }
    if (type == EXTENSION_RECORD_TYPE) {
      read_extension(gif.get(), name, &transparency);
      continue;
    }
    if (type == TERMINATE_RECORD_TYPE) {
      fail(ErrorKind::kDecode, name, "GIF holds no image");
    }
    if (type == IMAGE_DESC_RECORD_TYPE) break;
  }
  if (DGifGetImageDesc(gif.get()) == GIF_ERROR) gif_error(name, gif->Error);
  const GifImageDesc& frame = gif->Image;
  if (frame.Left < 0 || frame.Top < 0 || frame.Width < 0 || frame.Height < 0) {
    fail(ErrorKind::kDecode, name, "GIF frame with a negative extent");
  }
  const std::uint64_t width = std::max<std::uint64_t>(
      static_cast<std::uint64_t>(gif->SWidth),
      std::uint64_t{static_cast<std::uint32_t>(frame.Left)} +
          static_cast<std::uint32_t>(frame.Width));
  const std::uint64_t height = std::max<std::uint64_t>(
      static_cast<std::uint64_t>(gif->SHeight),
      std::uint64_t{static_cast<std::uint32_t>(frame.Top)} +
          static_cast<std::uint32_t>(frame.Height));
  const Palette palette =
      palette_of(frame.ColorMap ? frame.ColorMap : gif->SColorMap);
  RgbImage image = new_rgb_image(width, height, name);
  const std::uint8_t* fill = palette.rgb[transparency >= 0 ? transparency : 0];
  for (std::size_t i = 0; i < image.pixels.size(); i += 3) {
    std::memcpy(&image.pixels[i], fill, 3);
  }
  std::vector<GifPixelType> line(static_cast<std::size_t>(frame.Width) + 1);
  for (const int y : row_order(frame.Height, frame.Interlace)) {
    if (frame.Width > 0 &&
        DGifGetLine(gif.get(), line.data(), frame.Width) == GIF_ERROR) {
      gif_error(name, gif->Error);
    }
    std::uint8_t* out = image.row(frame.Top + y) + 3 * frame.Left;
    for (int x = 0; x < frame.Width; ++x, out += 3) {
      std::memcpy(out, palette.rgb[line[static_cast<std::size_t>(x)]], 3);
    }
  }
  return image;
}

}  // namespace resnet_cli::detail
