#include "resnet_cli/image.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <limits>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>

#include "jpeg_decode.h"
#include "resnet_cli/error.h"
#include "resnet_cli/exif.h"
#include "resnet_cli/file_util.h"

namespace resnet_cli {

namespace {

bool starts_with(const std::uint8_t* data, std::size_t size, const char* magic,
                 std::size_t length) {
  return size >= length && std::memcmp(data, magic, length) == 0;
}

// OpenCV logs decoder trouble straight to stderr; resnet-cli reports errors
// itself, once, naming the file.
void silence_opencv_logging() {
  static const bool done = [] {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    return true;
  }();
  (void)done;
}

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
    line.pop_back();
  }
  return line;
}

// PNG colour type from the IHDR chunk, or -1.
int png_color_type(const std::uint8_t* data, std::size_t size) {
  if (size < 26 || std::memcmp(data + 12, "IHDR", 4) != 0) return -1;
  return data[25];
}

RgbImage mat_to_rgb(const cv::Mat& mat, bool gray_has_alpha,
                    const std::string& name) {
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
          // Pillow opens 16-bit gray as mode "I" and convert("RGB") clips
          // it; 16-bit gray+alpha becomes "LA" through its high byte.
          const std::uint16_t v = in[0];
          out[0] = out[1] = out[2] = static_cast<std::uint8_t>(
              gray_has_alpha ? v >> 8 : (v > 255 ? 255 : v));
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

}  // namespace

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kTiff:
      return "TIFF";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kGif:
      return "GIF";
    case ImageFormat::kPnm:
      return "PNM";
    case ImageFormat::kJpeg2000:
      return "JPEG 2000";
    case ImageFormat::kOpenExr:
      return "OpenEXR";
    case ImageFormat::kHdr:
      return "Radiance HDR";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

ImageFormat sniff_image_format(const std::uint8_t* data, std::size_t size) {
  if (starts_with(data, size, "\xFF\xD8\xFF", 3)) return ImageFormat::kJpeg;
  if (starts_with(data, size, "\x89PNG\r\n\x1A\n", 8)) return ImageFormat::kPng;
  if (starts_with(data, size, "GIF87a", 6) ||
      starts_with(data, size, "GIF89a", 6)) {
    return ImageFormat::kGif;
  }
  if (starts_with(data, size, "BM", 2) && size >= 26) return ImageFormat::kBmp;
  if (starts_with(data, size, "II*\0", 4) ||
      starts_with(data, size, "MM\0*", 4)) {
    return ImageFormat::kTiff;
  }
  if (size >= 12 && starts_with(data, size, "RIFF", 4) &&
      std::memcmp(data + 8, "WEBP", 4) == 0) {
    return ImageFormat::kWebp;
  }
  if (size >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' &&
      (data[2] == ' ' || data[2] == '\n' || data[2] == '\r' ||
       data[2] == '\t')) {
    return ImageFormat::kPnm;
  }
  if (starts_with(data, size, "\x00\x00\x00\x0CjP  \r\n\x87\n", 12) ||
      starts_with(data, size, "\xFF\x4F\xFF\x51", 4)) {
    return ImageFormat::kJpeg2000;
  }
  if (starts_with(data, size, "\x76\x2F\x31\x01", 4))
    return ImageFormat::kOpenExr;
  if (starts_with(data, size, "#?RADIANCE", 10) ||
      starts_with(data, size, "#?RGBE", 6)) {
    return ImageFormat::kHdr;
  }
  return ImageFormat::kUnknown;
}

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
    case ImageFormat::kGif:
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
  // Orientation is applied below, by one rule for every JPEG.
  const int orientation =
      options.apply_exif_orientation && format == ImageFormat::kJpeg
          ? jpeg_exif_orientation(data, size)
          : 1;
  if (format == ImageFormat::kJpeg) {
    detail::JpegImage jpeg =
        detail::decode_jpeg(data, size, name, options.max_pixels);
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
  const int flags =
      cv::IMREAD_ANYCOLOR | cv::IMREAD_ANYDEPTH | cv::IMREAD_IGNORE_ORIENTATION;
  cv::Mat decoded;
  try {
    const cv::Mat buffer(1, static_cast<int>(size), CV_8U,
                         const_cast<std::uint8_t*>(data));
    decoded = cv::imdecode(buffer, flags);
  } catch (const cv::Exception& e) {
    throw Error(ErrorKind::kDecode, name + ": cannot decode " +
                                        image_format_name(format) + ": " +
                                        first_line(e.err));
  }
  if (decoded.empty()) {
    throw Error(ErrorKind::kDecode, name + ": cannot decode " +
                                        image_format_name(format) +
                                        " (corrupt or truncated?)");
  }
  const bool gray_has_alpha =
      format == ImageFormat::kPng && png_color_type(data, size) == 4;
  return apply_exif_orientation(mat_to_rgb(decoded, gray_has_alpha, name),
                                orientation);
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
    throw Error(ErrorKind::kOutput,
                path.string() + ": PNG encoding failed: " + first_line(e.err));
  }
  write_file_atomically(
      path, std::string_view(reinterpret_cast<const char*>(encoded.data()),
                             encoded.size()));
}

}  // namespace resnet_cli
