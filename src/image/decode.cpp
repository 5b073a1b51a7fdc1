#include "image/decode.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <limits>

#include "base/error.h"
#include "base/file_util.h"
#include "base/text.h"
#include "image/exif.h"
#include "image/formats/decoders.h"
#include "image/formats/jpeg_decode.h"
#include "image/formats/png_decode.h"
#include "image/png_encode.h"

namespace resnet_cli {

namespace {

// Pillow's decompression bomb check: a warning above the limit, an error
// above twice it.
void check_pixel_count(const ImageSize& size, const std::string& name,
                       std::uint64_t max_pixels) {
  if (size.width == 0 || size.height == 0) {
    throw Error(ErrorKind::kDecode,
                name + ": the header declares an empty image");
  }
  const std::uint64_t refused_above =
      max_pixels > std::numeric_limits<std::uint64_t>::max() / 2
          ? std::numeric_limits<std::uint64_t>::max()
          : 2 * max_pixels;
  const bool huge = size.width > refused_above || size.height > refused_above ||
                    size.width * size.height > refused_above;
  const std::string dimensions =
      std::to_string(size.width) + "x" + std::to_string(size.height);
  if (huge) {
    throw Error(
        ErrorKind::kTooLarge,
        name + ": " + dimensions + " pixels is more than twice the limit of " +
            std::to_string(max_pixels) + " (--max-pixels), as PIL refuses it");
  }
  if (size.width * size.height > max_pixels) {
    spdlog::warn(
        "{}: {} pixels is more than the limit of {} (--max-pixels); "
        "decoded anyway, as PIL does below twice the limit",
        name, dimensions, max_pixels);
  }
}

// PIL reads a JPEG's Exif block when opening it, for the resolution, unless
// a JFIF header gave it in dots per inch; an Exif block whose TIFF header is
// cut short makes PIL refuse the file, and resnet-cli too.
void check_jpeg_exif_header(const std::uint8_t* data, std::size_t size,
                            const std::string& name) {
  bool dpi = false;
  const std::uint8_t* exif = nullptr;
  std::size_t exif_size = 0;
  visit_jpeg_segments(
      data, size,
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
    throw Error(ErrorKind::kDecode,
                name +
                    ": the Exif block ends inside its TIFF header "
                    "(truncated; PIL refuses the file)");
  }
}

// JPEG: PIL's open-time Exif check, libjpeg-turbo, --allow-truncated and
// --exif apply.
RgbImage decode_jpeg_input(const std::uint8_t* data, std::size_t size,
                           const std::string& name,
                           const DecodeOptions& options) {
  check_jpeg_exif_header(data, size, name);
  detail::JpegImage jpeg = detail::decode_jpeg(data, size, name);
  if (jpeg.truncated) {
    if (!options.allow_truncated) {
      throw Error(ErrorKind::kDecode,
                  name +
                      ": truncated JPEG: the data ends before the image "
                      "(--allow-truncated decodes what is there)");
    }
    spdlog::warn("{}: truncated JPEG, the missing part is grey", name);
  }
  const int orientation =
      options.apply_exif_orientation ? jpeg_exif_orientation(data, size) : 1;
  return apply_exif_orientation(std::move(jpeg.image), orientation);
}

// Each format to its decoder (src/image/formats/), once its header was checked.
RgbImage decode_checked(ImageFormat format, const std::uint8_t* data,
                        std::size_t size, const std::string& name,
                        const DecodeOptions& options) {
  switch (format) {
    case ImageFormat::kJpeg:
      return decode_jpeg_input(data, size, name, options);
    case ImageFormat::kPng:
      detail::check_png_chunks(data, size, name);
      return detail::decode_png(data, size, name);
    case ImageFormat::kBmp:
      return detail::decode_bmp(data, size, name);
    case ImageFormat::kDib:
      return detail::decode_dib(data, size, 0, 0, name);
    case ImageFormat::kGif:
      return detail::decode_gif(data, size, name);
    case ImageFormat::kTiff:
      return detail::decode_tiff(data, size, name);
    case ImageFormat::kWebp:
      return detail::decode_webp(data, size, name);
    case ImageFormat::kJpeg2000:
      return detail::decode_jpeg2000(data, size, name);
    case ImageFormat::kPnm:
      return detail::decode_pnm(data, size, name);
    case ImageFormat::kTga:
      return detail::decode_tga(data, size, name);
    case ImageFormat::kIco:
      return detail::decode_ico(data, size, name);
    default:
      throw Error(ErrorKind::kUnsupportedFormat,
                  name + ": " + image_format_name(format) +
                      " images are not supported");
  }
}

}  // namespace

RgbImage decode_image_bytes(const std::uint8_t* data, std::size_t size,
                            const std::string& name,
                            const DecodeOptions& options) {
  if (size == 0) throw Error(ErrorKind::kEmptyFile, name + ": file is empty");
  const ImageFormat format = sniff_image_format(data, size);
  switch (format) {
    case ImageFormat::kUnknown:
      throw Error(ErrorKind::kUnsupportedFormat,
                  name +
                      ": not an image in a known format (checked by content, "
                      "not by extension)");
    case ImageFormat::kOpenExr:
    case ImageFormat::kHdr:
      throw Error(ErrorKind::kUnsupportedFormat,
                  name + ": " + image_format_name(format) +
                      " images are not supported");
    default:
      break;
  }
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw Error(ErrorKind::kTooLarge, name + ": file is larger than 2 GiB");
  }
  // The size the header claims, checked before any decoder allocates a pixel.
  const std::optional<ImageSize> declared = read_image_size(format, data, size);
  if (!declared) {
    throw Error(ErrorKind::kDecode,
                name + ": malformed " + image_format_name(format) + " header");
  }
  check_pixel_count(*declared, name, options.max_pixels);
  return decode_checked(format, data, size, name, options);
}

RgbImage decode_image_file(const std::filesystem::path& path,
                           const DecodeOptions& options) {
  const std::vector<std::uint8_t> bytes = read_input_file(path);
  return decode_image_bytes(bytes.data(), bytes.size(), path.string(), options);
}

RgbImage decode_image_input(const std::string& path,
                            const DecodeOptions& options) {
  if (path == "-") {
    const std::vector<std::uint8_t> bytes = read_stdin();
    return decode_image_bytes(bytes.data(), bytes.size(), "-", options);
  }
  return decode_image_file(path, options);
}

void write_png(const RgbImage& image, const std::filesystem::path& path) {
  write_file_atomically(path, detail::encode_png(image, path.string()));
}

}  // namespace resnet_cli
