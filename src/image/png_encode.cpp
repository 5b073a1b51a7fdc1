#include "image/png_encode.h"

#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstdio>
#include <vector>

#include "base/error.h"
#include "image/formats/png_errors.h"

namespace resnet_cli::detail {

namespace {

struct Writer {
  std::string* bytes;
};

void write_bytes(png_structp png, png_bytep data, png_size_t count) {
  auto* writer = static_cast<Writer*>(png_get_io_ptr(png));
  writer->bytes->append(reinterpret_cast<const char*>(data), count);
}

void flush_nothing(png_structp) {}

// The libpng calls: no object with a destructor lives in this frame, so the
// longjmp from on_error is safe.
bool write_image(png_structp png, png_infop info, png_uint_32 width,
                 png_uint_32 height, png_bytepp rows, png_textp text,
                 int text_count, bool fast) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (text_count > 0) png_set_text(png, info, text, text_count);
  if (fast) {
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_UP);
    png_set_compression_level(png, 1);
    png_set_compression_strategy(png, Z_HUFFMAN_ONLY);
  }
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

std::string encode_png(const RgbImage& image, const std::string& name,
                       const PngOptions& options) {
  std::string bytes;
  Writer writer{&bytes};
  PngErrorSink errors;
  png_structp png = png_create_write_struct(
      PNG_LIBPNG_VER_STRING, &errors, png_error_to_sink, png_ignore_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    throw Error(ErrorKind::kOutput, name + ": PNG encoding failed");
  }
  struct Cleanup {
    png_structp* png;
    png_infop* info;
    ~Cleanup() { png_destroy_write_struct(png, info); }
  } cleanup{&png, &info};
  png_set_write_fn(png, &writer, write_bytes, flush_nothing);
  std::vector<png_bytep> rows(static_cast<std::size_t>(image.height));
  for (int y = 0; y < image.height; ++y) {
    rows[static_cast<std::size_t>(y)] = const_cast<png_bytep>(image.row(y));
  }
  std::vector<png_text> text(options.text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    text[i].compression = PNG_TEXT_COMPRESSION_NONE;
    text[i].key = const_cast<char*>(options.text[i].keyword.c_str());
    text[i].text = const_cast<char*>(options.text[i].text.c_str());
    text[i].text_length = options.text[i].text.size();
  }
  if (!write_image(png, info, static_cast<png_uint_32>(image.width),
                   static_cast<png_uint_32>(image.height), rows.data(),
                   text.data(), static_cast<int>(text.size()), options.fast)) {
    throw Error(ErrorKind::kOutput,
                name + ": PNG encoding failed: " + errors.message);
  }
  return bytes;
}

}  // namespace resnet_cli::detail
