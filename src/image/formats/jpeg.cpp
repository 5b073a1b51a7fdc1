// JPEG (and MPO, whose first image is a JPEG) with libjpeg-turbo, the
// library Pillow uses, driven as Pillow drives it: YCbCr and RGB through
// libjpeg's colour conversion, grey replicated, CMYK/YCCK read as Pillow's
// "CMYK;I" and converted with Pillow's formula. The header is libjpeg's
// jpeg_read_header; the size it gives is the one allocated.
//
// Where the data ends, as PIL does: PIL stops once every row is out, so
// whatever follows the last row (a stray or incomplete marker, a DNL segment
// longer than the file) is never read. Data that ends before the last row
// is a truncated JPEG: refused at once, or, under --allow-truncated
// (PIL's LOAD_TRUNCATED_IMAGES), decoded with the rest grey and a warning.
#include <spdlog/spdlog.h>

// jpeglib.h needs FILE and size_t declared first.
#include <jerror.h>
#include <jpeglib.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "image/exif.h"
#include "image/formats/decoder_support.h"
#include "image/formats/jpeg_errors.h"
#include "image/formats/jpeg_segments.h"

namespace resnet_cli::detail {

namespace {

bool sniff(const std::uint8_t* data, std::size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

// PIL reads a JPEG's Exif block when opening it, for the resolution, unless
// a JFIF header gave it in dots per inch; an Exif block whose TIFF header is
// cut short makes PIL refuse the file, and resnet-cli too.
void check_exif_header(const EncodedImage& file) {
  bool dpi = false;
  const std::uint8_t* exif = nullptr;
  std::size_t exif_size = 0;
  visit_jpeg_segments(
      file.data, file.size,
      [&](std::uint8_t marker, const std::uint8_t* payload, std::size_t n) {
        if (marker == 0xE0 && n >= 12 && std::memcmp(payload, "JFIF", 4) == 0 &&
            payload[7] == 1) {
          dpi = true;
        }
        if (marker == 0xE1 && !exif && n >= 6 &&
            std::memcmp(payload, "Exif\0\0", 6) == 0) {
          exif = payload + 6;
          exif_size = n - 6;
        }
        return true;
      });
  if (dpi || !exif || exif_size >= 8 || exif_size < 4) return;
  if (std::memcmp(exif, "II*\0", 4) == 0 ||
      std::memcmp(exif, "MM\0*", 4) == 0) {
    fail(ErrorKind::kDecode, file.name,
         "the Exif block ends inside its TIFF header (truncated; PIL refuses "
         "the file)");
  }
}

// Why a libjpeg call jumped back.
enum class Stop { kError, kTruncated, kComplete };

struct DecoderErrors {
  JpegErrorManager common;  // first: libjpeg's err pointer points at it
  bool allow_truncated = false;
  bool reading_pixels = false;  // jpeg_start_decompress was called
  bool rows_out = false;        // every row was read
  bool truncated = false;       // the data ended before the last row
  Stop stop = Stop::kError;
};

// Warnings ("Corrupt JPEG data: N extraneous bytes", ...) are not errors for
// Pillow either; only running out of data matters.
void on_message(j_common_ptr info, int level) {
  if (level >= 0 || info->err->msg_code != JWRN_JPEG_EOF) return;
  auto* errors = reinterpret_cast<DecoderErrors*>(info->err);
  if (errors->rows_out) {  // PIL has stopped reading: the image is whole
    errors->stop = Stop::kComplete;
    std::longjmp(errors->common.jump, 1);
  }
  errors->truncated = true;
  if (errors->reading_pixels && !errors->allow_truncated) {
    errors->stop = Stop::kTruncated;  // refused: decoding the rest is waste
    std::longjmp(errors->common.jump, 1);
  }
}

struct Decoder {
  jpeg_decompress_struct info{};
  DecoderErrors errors{};

  Decoder() {
    info.err = jpeg_std_error(&errors.common.manager);
    errors.common.manager.error_exit = jpeg_error_to_jump;
    errors.common.manager.emit_message = on_message;
    jpeg_create_decompress(&info);
  }
  ~Decoder() { jpeg_destroy_decompress(&info); }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
};

// Where each scanline goes: RGB straight into the image, grown a row at a
// time (so that its memory is touched as rows arrive); grey and CMYK into
// `scratch`, then converted into the image.
struct RowSink {
  int channels;  // 1 grey, 3 RGB, 4 inverted CMYK ("CMYK;I")
  std::size_t width;
  std::uint8_t* scratch;  // width * channels bytes
  RgbImage* image;

  std::uint8_t* next_row() const {
    if (channels != 3) return scratch;
    return grow();
  }

  void row_done() const {
    if (channels == 3) return;
    std::uint8_t* out = grow();
    for (std::size_t x = 0; x < width; ++x, out += 3) {
      if (channels == 1) {
        out[0] = out[1] = out[2] = scratch[x];
        continue;
      }
      // R = (255 - K) - C * (255 - K) / 255, rounded; the stored values
      // are 255 - C and 255 - K.
      const std::uint8_t* px = scratch + 4 * x;
      const int not_k = px[3];
      for (int c = 0; c < 3; ++c) {
        const int value = not_k - muldiv255(255 - px[c], not_k);
        out[c] = static_cast<std::uint8_t>(value < 0 ? 0 : value);
      }
    }
  }

 private:
  // A new row at the image's end, inside its reserved memory.
  std::uint8_t* grow() const {
    std::vector<std::uint8_t>& pixels = image->pixels;
    const std::size_t at = pixels.size();
    pixels.resize(at + width * 3);
    return pixels.data() + at;
  }
};

// The functions that call into libjpeg hold no object with a destructor,
// so that longjmp out of them is safe.
bool read_header(Decoder& decoder, const std::uint8_t* data, std::size_t size) {
  if (setjmp(decoder.errors.common.jump)) return false;
  jpeg_mem_src(&decoder.info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&decoder.info, TRUE);
  return true;
}

bool read_pixels(Decoder& decoder, J_COLOR_SPACE space, const RowSink& sink) {
  if (setjmp(decoder.errors.common.jump)) return false;
  decoder.info.out_color_space = space;
  decoder.errors.reading_pixels = true;
  jpeg_start_decompress(&decoder.info);
  while (decoder.info.output_scanline < decoder.info.output_height) {
    JSAMPROW rows[1] = {sink.next_row()};
    if (jpeg_read_scanlines(&decoder.info, rows, 1) == 1) sink.row_done();
  }
  decoder.errors.rows_out = true;
  jpeg_finish_decompress(&decoder.info);
  return true;
}

// A progressive (or any multi-scan) JPEG is read whole, up to its EOI
// marker, before its first row comes out; without an EOI after the first
// scan's header, its data must end first, and PIL refuses the file once it
// has done that work. (Scan data holds no FF D9: an FF in it is followed by
// 00 or a marker that ends the scan.)
bool ends_before_eoi(jpeg_decompress_struct& info, const std::uint8_t* data,
                     std::size_t size) {
  if (!jpeg_has_multiple_scans(&info)) return false;
  const std::size_t from =
      static_cast<std::size_t>(info.src->next_input_byte - data);
  for (std::size_t i = from; i + 1 < size; ++i) {
    if (data[i] == 0xFF && data[i + 1] == 0xD9) return false;
  }
  return true;
}

class JpegReader : public ImageReader {
 public:
  JpegReader(ImageSize size, const EncodedImage& file,
             const DecodeOptions& options, std::unique_ptr<Decoder> decoder)
      : ImageReader(size),
        file_(file),
        options_(options),
        decoder_(std::move(decoder)) {}

  RgbImage decode() override {
    Decoder& decoder = *decoder_;
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
        fail(ErrorKind::kUnsupportedFormat, file_.name,
             "JPEG with an unsupported colour space");
    }
    // (Data that ended inside the header is refused as soon as decoding
    // starts.)
    if (!options_.allow_truncated && !decoder.errors.truncated &&
        ends_before_eoi(decoder.info, file_.data, file_.size)) {
      truncated();
    }
    RgbImage image = reserve_rgb_image(size().width, size().height, file_.name);
    const auto width = static_cast<std::size_t>(size().width);
    std::vector<std::uint8_t> scratch(channels == 3 ? 0 : width * channels);
    const RowSink sink{channels, width, scratch.data(), &image};
    if (!read_pixels(decoder, space, sink) &&
        decoder.errors.stop != Stop::kComplete) {
      if (decoder.errors.stop == Stop::kTruncated) truncated();
      fail(ErrorKind::kDecode, file_.name,
           std::string("cannot decode JPEG: ") + decoder.errors.common.message);
    }
    if (decoder.errors.truncated) {
      if (!options_.allow_truncated) truncated();
      spdlog::warn("{}: truncated JPEG, the missing part is grey", file_.name);
    }
    const int orientation = options_.apply_exif_orientation
                                ? jpeg_exif_orientation(file_.data, file_.size)
                                : 1;
    return apply_exif_orientation(std::move(image), orientation);
  }

 private:
  [[noreturn]] void truncated() const {
    fail(ErrorKind::kDecode, file_.name,
         "truncated JPEG: the data ends before the image (--allow-truncated "
         "decodes what is there)");
  }

  EncodedImage file_;
  DecodeOptions options_;
  std::unique_ptr<Decoder> decoder_;
};

std::unique_ptr<ImageReader> open(const EncodedImage& file,
                                  const DecodeOptions& options) {
  check_exif_header(file);
  auto decoder = std::make_unique<Decoder>();
  decoder->errors.allow_truncated = options.allow_truncated;
  const bool read = read_header(*decoder, file.data, file.size);
  const ImageSize size{decoder->info.image_width, decoder->info.image_height};
  if (!read) {
    Error error(ErrorKind::kDecode, file.name + ": cannot decode JPEG: " +
                                        decoder->errors.common.message);
    // A frame header was read: its size is checked first.
    if (size.width == 0 || size.height == 0) throw error;
    return std::make_unique<FailedReader>(size, std::move(error));
  }
  return std::make_unique<JpegReader>(size, file, options, std::move(decoder));
}

}  // namespace

const ImageFormat& jpeg_format() {
  static const ImageFormat format{
      "JPEG", {"jpg", "jpeg", "jpe", "jfif", "mpo"}, sniff, open};
  return format;
}

}  // namespace resnet_cli::detail
