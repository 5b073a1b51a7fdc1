#include "image/formats/jpeg_decode.h"

// jpeglib.h needs FILE and size_t declared first.
#include <jerror.h>
#include <jpeglib.h>

#include <csetjmp>
#include <cstdio>
#include <vector>

#include "base/error.h"
#include "image/formats/jpeg_errors.h"

namespace resnet_cli::detail {

namespace {

// Warnings ("Corrupt JPEG data: N extraneous bytes", ...) are not errors for
// Pillow either; only running out of data matters.
void on_message(j_common_ptr info, int level) {
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) {
    reinterpret_cast<JpegErrorManager*>(info->err)->truncated = true;
  }
}

struct Decoder {
  jpeg_decompress_struct info{};
  JpegErrorManager errors{};

  Decoder() {
    info.err = jpeg_std_error(&errors.manager);
    errors.manager.error_exit = jpeg_error_to_jump;
    errors.manager.emit_message = on_message;
    jpeg_create_decompress(&info);
  }
  ~Decoder() { jpeg_destroy_decompress(&info); }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
};

// The two functions that call into libjpeg hold no object with a destructor,
// so that longjmp out of them is safe.
bool read_header(Decoder& decoder, const std::uint8_t* data, std::size_t size) {
  if (setjmp(decoder.errors.jump)) return false;
  jpeg_mem_src(&decoder.info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&decoder.info, TRUE);
  return true;
}

bool read_pixels(Decoder& decoder, J_COLOR_SPACE space, std::uint8_t* pixels,
                 std::size_t stride) {
  if (setjmp(decoder.errors.jump)) return false;
  decoder.info.out_color_space = space;
  jpeg_start_decompress(&decoder.info);
  while (decoder.info.output_scanline < decoder.info.output_height) {
    JSAMPROW row = pixels + decoder.info.output_scanline * stride;
    jpeg_read_scanlines(&decoder.info, &row, 1);
  }
  jpeg_finish_decompress(&decoder.info);
  return true;
}

// Pillow's MULDIV255: a * b / 255, rounded.
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

}  // namespace

JpegImage decode_jpeg(const std::uint8_t* data, std::size_t size,
                      const std::string& name) {
  Decoder decoder;
  if (!read_header(decoder, data, size)) {
    throw Error(ErrorKind::kDecode,
                name + ": cannot decode JPEG: " + decoder.errors.message);
  }
  const std::uint64_t width = decoder.info.image_width;
  const std::uint64_t height = decoder.info.image_height;
  if (width == 0 || height == 0) {
    throw Error(ErrorKind::kDecode, name + ": JPEG declares an empty image");
  }
  J_COLOR_SPACE space;
  int channels;
  switch (decoder.info.jpeg_color_space) {
    case JCS_CMYK:
    case JCS_YCCK:
      space = JCS_CMYK;
      channels = 4;
      break;
    case JCS_GRAYSCALE:
      space = JCS_GRAYSCALE;
      channels = 1;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      space = JCS_RGB;
      channels = 3;
      break;
    default:
      throw Error(ErrorKind::kUnsupportedFormat,
                  name + ": JPEG with an unsupported colour space");
  }
  const std::size_t stride = static_cast<std::size_t>(width) * channels;
  std::vector<std::uint8_t> pixels(stride * height);
  if (!read_pixels(decoder, space, pixels.data(), stride)) {
    throw Error(ErrorKind::kDecode,
                name + ": cannot decode JPEG: " + decoder.errors.message);
  }

  JpegImage out;
  out.truncated = decoder.errors.truncated;
  RgbImage& image = out.image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  if (channels == 3) {
    image.pixels = std::move(pixels);
    return out;
  }
  image.pixels.resize(static_cast<std::size_t>(width) * height * 3);
  const std::size_t count = static_cast<std::size_t>(width) * height;
  if (channels == 1) {
    for (std::size_t i = 0; i < count; ++i) {
      image.pixels[i * 3] = image.pixels[i * 3 + 1] = image.pixels[i * 3 + 2] =
          pixels[i];
    }
    return out;
  }
  // Pillow reads CMYK JPEGs as "CMYK;I" (Adobe's inverted values) and
  // converts with cmyk2rgb: R = (255 - K) - C * (255 - K) / 255, rounded.
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* in = pixels.data() + i * 4;
    const int not_k = in[3];  // the stored value is 255 - K
    for (int c = 0; c < 3; ++c) {
      const int value = not_k - muldiv255(255 - in[c], not_k);
      image.pixels[i * 3 + c] =
          static_cast<std::uint8_t>(value < 0 ? 0 : value);
    }
  }
  return out;
}

}  // namespace resnet_cli::detail
