#include "image/jpeg_encode.h"

#include <jpeglib.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>

#include "base/error.h"
#include "image/formats/jpeg_errors.h"

namespace resnet_cli::detail {

namespace {

// Owns what libjpeg allocates, whichever way encoding ends.
struct Encoder {
  jpeg_compress_struct info{};
  JpegErrorManager errors{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  ~Encoder() {
    jpeg_destroy_compress(&info);
    std::free(buffer);
  }
};

}  // namespace

std::string encode_jpeg(const RgbImage& image, int quality,
                        const std::string& name) {
  Encoder encoder;
  encoder.info.err = jpeg_std_error(&encoder.errors.manager);
  encoder.errors.manager.error_exit = jpeg_error_to_jump;
  // No C++ object with a destructor may be created between setjmp and a
  // longjmp to it: everything lives in `encoder`, made before.
  if (setjmp(encoder.errors.jump)) {
    throw Error(ErrorKind::kOutput, name + ": cannot encode JPEG: " +
                                        std::string(encoder.errors.message));
  }
  jpeg_create_compress(&encoder.info);
  jpeg_mem_dest(&encoder.info, &encoder.buffer, &encoder.size);
  encoder.info.image_width = static_cast<JDIMENSION>(image.width);
  encoder.info.image_height = static_cast<JDIMENSION>(image.height);
  encoder.info.input_components = 3;
  encoder.info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&encoder.info);
  jpeg_set_quality(&encoder.info, quality, TRUE);
  jpeg_start_compress(&encoder.info, TRUE);
  while (encoder.info.next_scanline < encoder.info.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(
        image.row(static_cast<int>(encoder.info.next_scanline)));
    jpeg_write_scanlines(&encoder.info, &row, 1);
  }
  jpeg_finish_compress(&encoder.info);
  return std::string(reinterpret_cast<const char*>(encoder.buffer),
                     encoder.size);
}

}  // namespace resnet_cli::detail
