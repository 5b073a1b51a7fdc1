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
#include "image/formats/decoder_support.h"

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

// The first frame's descriptor, read past the extensions before it (their
// graphic control extension gives the transparent index).
void read_to_first_frame(GifFileType* gif, const std::string& name,
                         int* transparency) {
  for (;;) {
    GifRecordType type = UNDEFINED_RECORD_TYPE;
    if (DGifGetRecordType(gif, &type) == GIF_ERROR) gif_error(name, gif->Error);
    if (type == EXTENSION_RECORD_TYPE) {
      read_extension(gif, name, transparency);
      continue;
    }
    if (type == TERMINATE_RECORD_TYPE) {
      fail(ErrorKind::kDecode, name, "GIF holds no image");
    }
    if (type == IMAGE_DESC_RECORD_TYPE) break;
  }
  if (DGifGetImageDesc(gif) == GIF_ERROR) gif_error(name, gif->Error);
  const GifImageDesc& frame = gif->Image;
  if (frame.Left < 0 || frame.Top < 0 || frame.Width < 0 || frame.Height < 0) {
    fail(ErrorKind::kDecode, name, "GIF frame with a negative extent");
  }
}

// Bytes of LZW data in the sub-blocks from `pos` (the first block's length).
std::uint64_t lzw_bytes(const std::uint8_t* data, std::size_t size,
                        std::size_t pos) {
  std::uint64_t total = 0;
  while (pos < size && data[pos] != 0) {
    const std::size_t block = data[pos];
    total += std::min(block, size - pos - 1);
    pos += block + 1;
  }
  return total;
}

class GifReader : public ImageReader {
 public:
  GifReader(ImageSize size, const EncodedImage& file,
            std::unique_ptr<MemoryReader> source, GifHandle gif,
            int transparency)
      : ImageReader(size),
        file_(file),
        source_(std::move(source)),
        gif_(std::move(gif)),
        transparency_(transparency) {}

  RgbImage decode() override {
    GifFileType* gif = gif_.get();
    const GifImageDesc& frame = gif->Image;
    // An LZW code takes a bit at least and stands for at most 4096 pixels.
    const std::uint64_t data =
        lzw_bytes(file_.data, file_.size, source_->position);
    if (std::uint64_t{static_cast<std::uint32_t>(frame.Width)} *
            static_cast<std::uint32_t>(frame.Height) >
        data * 8 * 4096) {
      fail(ErrorKind::kDecode, file_.name,
           "GIF image data ends before the image (truncated)");
    }
    const Palette palette =
        palette_of(frame.ColorMap ? frame.ColorMap : gif->SColorMap);
    RgbImage image = new_rgb_image(size().width, size().height, file_.name);
    const std::uint8_t* fill =
        palette.rgb[transparency_ >= 0 ? transparency_ : 0];
    for (std::size_t i = 0; i < image.pixels.size(); i += 3) {
      std::memcpy(&image.pixels[i], fill, 3);
    }
    std::vector<GifPixelType> line(static_cast<std::size_t>(frame.Width) + 1);
    for (const int y : row_order(frame.Height, frame.Interlace)) {
      if (frame.Width > 0 &&
          DGifGetLine(gif, line.data(), frame.Width) == GIF_ERROR) {
        gif_error(file_.name, gif->Error);
      }
      std::uint8_t* out = image.row(frame.Top + y) + 3 * frame.Left;
      for (int x = 0; x < frame.Width; ++x, out += 3) {
        std::memcpy(out, palette.rgb[line[static_cast<std::size_t>(x)]], 3);
      }
    }
    return image;
  }

 private:
  EncodedImage file_;
  std::unique_ptr<MemoryReader> source_;
  GifHandle gif_;
  int transparency_;
};

bool sniff(const std::uint8_t* data, std::size_t size) {
  return size >= 6 && (std::memcmp(data, "GIF87a", 6) == 0 ||
                       std::memcmp(data, "GIF89a", 6) == 0);
}

// The canvas is the logical screen, grown to hold the first frame. Damage
// past the screen descriptor is reported by decode(), after --max-pixels
// has been checked on the screen.
std::unique_ptr<ImageReader> open(const EncodedImage& file,
                                  const DecodeOptions&) {
  auto source = std::make_unique<MemoryReader>(file.data, file.size);
  int error = 0;
  GifHandle gif(DGifOpen(source.get(), read_source, &error));
  if (!gif) gif_error(file.name, error);
  const ImageSize screen{static_cast<std::uint64_t>(gif->SWidth),
                         static_cast<std::uint64_t>(gif->SHeight)};
  int transparency = -1;
  try {
    read_to_first_frame(gif.get(), file.name, &transparency);
  } catch (const Error& e) {
    return std::make_unique<FailedReader>(screen, e);
  }
  const GifImageDesc& frame = gif->Image;
  const ImageSize size{
      std::max<std::uint64_t>(
          screen.width, std::uint64_t{static_cast<std::uint32_t>(frame.Left)} +
                            static_cast<std::uint32_t>(frame.Width)),
      std::max<std::uint64_t>(
          screen.height, std::uint64_t{static_cast<std::uint32_t>(frame.Top)} +
                             static_cast<std::uint32_t>(frame.Height))};
  return std::make_unique<GifReader>(size, file, std::move(source),
                                     std::move(gif), transparency);
}

}  // namespace

const ImageFormat& gif_format() {
  static const ImageFormat format{"GIF", {"gif"}, sniff, open};
  return format;
}

}  // namespace resnet_cli::detail
