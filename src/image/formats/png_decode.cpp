#include "image/formats/png_decode.h"

#include <png.h>

#include <csetjmp>
#include <cstring>
#include <vector>

#include "base/error.h"
#include "image/formats/png_errors.h"

namespace resnet_cli::detail {

namespace {

struct Reader {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t position;
};

void read_bytes(png_structp png, png_bytep out, png_size_t count) {
  auto* reader = static_cast<Reader*>(png_get_io_ptr(png));
  if (count > reader->size - reader->position) {
    png_error(png, "the file ends before the image (truncated)");
  }
  std::memcpy(out, reader->data + reader->position, count);
  reader->position += count;
}

// What the transforms below turn each pixel into.
struct Layout {
  int channels = 0;   // 1 (gray) or 3 (RGB)
  bool wide = false;  // 16-bit samples kept (gray that Pillow clips)
};

// The libpng calls: no object with a destructor lives in these frames, so
// the longjmp from on_error is safe.
bool read_header(png_structp png, png_infop info, Layout* layout) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) {
    png_set_expand_gray_1_2_4_to_8(png);
  }
  // Palette expansion turns tRNS into alpha; Pillow's P -> RGB ignores it.
  if ((color & PNG_COLOR_MASK_ALPHA) ||
      png_get_valid(png, info, PNG_INFO_tRNS)) {
    png_set_strip_alpha(png);
  }
  layout->wide = color == PNG_COLOR_TYPE_GRAY && depth == 16;
  if (layout->wide) {
    png_set_swap(png);  // native (little-endian) 16-bit samples
  } else if (depth == 16) {
    png_set_strip_16(png);  // the high byte, as Pillow's ;16B unpackers
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  layout->channels = png_get_channels(png, info);
  return true;
}

bool read_rows(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

}  // namespace

RgbImage decode_png(const std::uint8_t* data, std::size_t size,
                    const std::string& name) {
  Reader reader{data, size, 0};
  PngErrorSink errors;
  png_structp png = png_create_read_struct(
      PNG_LIBPNG_VER_STRING, &errors, png_error_to_sink, png_ignore_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw Error(ErrorKind::kDecode,
                name + ": cannot decode PNG: out of memory");
  }
  struct Cleanup {
    png_structp* png;
    png_infop* info;
    ~Cleanup() { png_destroy_read_struct(png, info, nullptr); }
  } cleanup{&png, &info};
  png_set_read_fn(png, &reader, read_bytes);

  Layout layout;
  if (!read_header(png, info, &layout)) {
    throw Error(ErrorKind::kDecode,
                name + ": cannot decode PNG: " + errors.message);
  }
  if (layout.channels != 1 && layout.channels != 3) {
    throw Error(ErrorKind::kDecode,
                name + ": cannot decode PNG: unexpected layout");
  }
  const std::size_t width = png_get_image_width(png, info);
  const std::size_t height = png_get_image_height(png, info);
  const std::size_t stride = png_get_rowbytes(png, info);
  std::vector<std::uint8_t> pixels(stride * height);
  std::vector<png_bytep> rows(height);
  for (std::size_t y = 0; y < height; ++y) rows[y] = pixels.data() + y * stride;
  if (!read_rows(png, rows.data())) {
    throw Error(ErrorKind::kDecode,
                name + ": cannot decode PNG: " + errors.message);
  }

  RgbImage image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  if (layout.channels == 3) {
    image.pixels = std::move(pixels);
    return image;
  }
  image.pixels.resize(width * height * 3);
  for (std::size_t y = 0; y < height; ++y) {
    std::uint8_t* out = image.row(static_cast<int>(y));
    for (std::size_t x = 0; x < width; ++x) {
      std::uint8_t value;
      if (layout.wide) {
        std::uint16_t sample;
        std::memcpy(&sample, rows[y] + 2 * x, 2);
        value = static_cast<std::uint8_t>(sample > 255 ? 255 : sample);
      } else {
        value = rows[y][x];
      }
      out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = value;
    }
  }
  return image;
}

}  // namespace resnet_cli::detail
