#include "resnet_cli/image.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <iostream>
#include <limits>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <streambuf>

#include "decode/decoders.h"
#include "jpeg_decode.h"
#include "png_decode.h"
#include "resnet_cli/error.h"
#include "resnet_cli/exif.h"
#include "resnet_cli/file_util.h"
#include "text.h"

namespace resnet_cli {

namespace {

// OpenCV logs decoder trouble straight to stderr; resnet-cli reports errors
// itself, once, naming the file.
void silence_opencv_logging() {
  static const bool done = [] {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    return true;
  }();
  (void)done;
}

RgbImage mat_to_rgb(const cv::Mat& mat, const std::string& name) {
  const int channels = mat.channels();
  const int depth = mat.depth();
  if ((depth != CV_8U && depth != CV_16U) ||
      (channels != 1 && channels != 3 && channels != 4)) {
    throw Error(ErrorKind::kUnsupportedFormat,
                name + ": unsupported pixel type (" + std::to_string(channels) +
                    " channels, " +
                    (depth == CV_8U    ? "8"
                     : depth == CV_16U ? "16"
                                       : "float/other") +
                    "-bit)");
  }
  RgbImage image;
  image.width = mat.cols;
  image.height = mat.rows;
  image.pixels.resize(static_cast<std::size_t>(image.width) * image.height * 3);
  for (int y = 0; y < mat.rows; ++y) {
    std::uint8_t* out = image.row(y);
    if (depth == CV_8U) {
      const std::uint8_t* in = mat.ptr<std::uint8_t>(y);
      for (int x = 0; x < mat.cols; ++x, out += 3, in += channels) {
        if (channels == 1) {
          out[0] = out[1] = out[2] = in[0];
        } else {  // OpenCV's BGR(A)
          out[0] = in[2];
          out[1] = in[1];
          out[2] = in[0];
        }
      }
    } else {
      const std::uint16_t* in = mat.ptr<std::uint16_t>(y);
      for (int x = 0; x < mat.cols; ++x, out += 3, in += channels) {
        if (channels == 1) {
          // Pillow opens 16-bit gray as mode "I" and convert("RGB") clips.
          const std::uint16_t v = in[0];
          out[0] = out[1] = out[2] =
              static_cast<std::uint8_t>(v > 255 ? 255 : v);
        } else {  // Pillow's RGB;16 unpackers keep the high byte
          out[0] = static_cast<std::uint8_t>(in[2] >> 8);
          out[1] = static_cast<std::uint8_t>(in[1] >> 8);
          out[2] = static_cast<std::uint8_t>(in[0] >> 8);
        }
      }
    }
  }
  return image;
}

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

// OpenCV's imdecode prints a decoder's exception to std::cerr before
// returning an empty image; resnet-cli reports that failure itself, once.
// std::cerr is silenced while any thread decodes (resnet-cli writes its own
// messages through stderr's FILE, never through std::cerr meanwhile).
class QuietCerr {
 public:
  QuietCerr() {
    std::lock_guard<std::mutex> lock(mutex());
    if (active()++ == 0) saved() = std::cerr.rdbuf(&null_buffer());
  }
  ~QuietCerr() {
    std::lock_guard<std::mutex> lock(mutex());
    if (--active() == 0) std::cerr.rdbuf(saved());
  }
  QuietCerr(const QuietCerr&) = delete;
  QuietCerr& operator=(const QuietCerr&) = delete;

 private:
  struct NullBuffer : std::streambuf {
    int overflow(int c) override { return c; }
  };
  static std::mutex& mutex() {
    static std::mutex instance;
    return instance;
  }
  static int& active() {
    static int count = 0;
    return count;
  }
  static std::streambuf*& saved() {
    static std::streambuf* buffer = nullptr;
    return buffer;
  }
  static NullBuffer& null_buffer() {
    static NullBuffer buffer;
    return buffer;
  }
};

}  // namespace

RgbImage decode_image_bytes(const std::uint8_t* data, std::size_t size,
                            const std::string& name,
                            const DecodeOptions& options) {
  silence_opencv_logging();
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
  // Orientation is applied below, by one rule for every JPEG.
  const int orientation =
      options.apply_exif_orientation && format == ImageFormat::kJpeg
          ? jpeg_exif_orientation(data, size)
          : 1;
  if (format == ImageFormat::kJpeg) {
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
    return apply_exif_orientation(std::move(jpeg.image), orientation);
  }
  switch (format) {
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
      break;
  }
  const int flags =
      cv::IMREAD_ANYCOLOR | cv::IMREAD_ANYDEPTH | cv::IMREAD_IGNORE_ORIENTATION;
  cv::Mat decoded;
  try {
    const cv::Mat buffer(1, static_cast<int>(size), CV_8U,
                         const_cast<std::uint8_t*>(data));
    const QuietCerr quiet;
    decoded = cv::imdecode(buffer, flags);
  } catch (const cv::Exception& e) {
    throw Error(ErrorKind::kDecode, name + ": cannot decode " +
                                        image_format_name(format) + ": " +
                                        detail::first_line(e.err));
  }
  if (decoded.empty()) {
    throw Error(ErrorKind::kDecode, name + ": cannot decode " +
                                        image_format_name(format) +
                                        " (corrupt or truncated?)");
  }
  return apply_exif_orientation(mat_to_rgb(decoded, name), orientation);
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
  silence_opencv_logging();
  cv::Mat bgr(image.height, image.width, CV_8UC3);
  for (int y = 0; y < image.height; ++y) {
    const std::uint8_t* in = image.row(y);
    std::uint8_t* out = bgr.ptr<std::uint8_t>(y);
    for (int x = 0; x < image.width; ++x) {
      out[3 * x + 0] = in[3 * x + 2];
      out[3 * x + 1] = in[3 * x + 1];
      out[3 * x + 2] = in[3 * x + 0];
    }
  }
  std::vector<std::uint8_t> encoded;
  try {
    if (!cv::imencode(".png", bgr, encoded)) {
      throw Error(ErrorKind::kOutput, path.string() + ": PNG encoding failed");
    }
  } catch (const cv::Exception& e) {
    throw Error(ErrorKind::kOutput, path.string() + ": PNG encoding failed: " +
                                        detail::first_line(e.err));
  }
  write_file_atomically(
      path, std::string_view(reinterpret_cast<const char*>(encoded.data()),
                             encoded.size()));
}

}  // namespace resnet_cli
