#include "image/decode.h"

#include <spdlog/spdlog.h>

#include <limits>

#include "base/error.h"
#include "base/file_util.h"
#include "image/png_encode.h"

namespace resnet_cli {

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

RgbImage decode_image_bytes(const std::uint8_t* data, std::size_t size,
                            const std::string& name,
                            const DecodeOptions& options) {
  if (size == 0) throw Error(ErrorKind::kEmptyFile, name + ": file is empty");
  const ImageFormat* format = sniff_image_format(data, size);
  if (!format) {
    if (const char* unread = unread_image_format(data, size)) {
      throw Error(ErrorKind::kUnsupportedFormat,
                  name + ": " + unread + " images are not supported");
    }
    throw Error(ErrorKind::kUnsupportedFormat,
                name +
                    ": not an image in a known format (checked by content, "
                    "not by extension)");
  }
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw Error(ErrorKind::kTooLarge, name + ": file is larger than 2 GiB");
  }
  // The decoder reads its header; the size it will allocate is checked
  // before it allocates it.
  const std::unique_ptr<ImageReader> reader =
      format->open(EncodedImage{data, size, name}, options);
  check_pixel_count(reader->size(), name, options.max_pixels);
  return reader->decode();
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
