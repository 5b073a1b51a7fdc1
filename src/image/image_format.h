// The image formats resnet-cli reads, as one table (src/image/formats/
// table.cpp): each format is one file under src/image/formats/ that declares
// its name, its file extensions, its signature and a reader that parses the
// header once and then decodes from what it parsed. Sniffing, the folder
// scanner's default extensions (run/inputs.h), --ext's default, the Formats
// section of --help and of the man page, and the --max-pixels check
// (image/decode.h) all read this table, so a new format is its file and its
// row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image/rgb_image.h"

namespace resnet_cli {

struct DecodeOptions {
  bool apply_exif_orientation = false;  // --exif apply
  // Pillow's MAX_IMAGE_PIXELS, and what Pillow does with it: images with
  // more pixels decode with a warning, those with more than twice as many
  // are refused (too_large) before decoding.
  std::uint64_t max_pixels = 89'478'485;
  // Decode truncated JPEGs (the missing part grey) with a warning instead of
  // refusing them, as PIL's LOAD_TRUNCATED_IMAGES does.
  bool allow_truncated = false;
};

struct ImageSize {
  std::uint64_t width = 0;   // pixels
  std::uint64_t height = 0;  // pixels
};

// An encoded image held in memory. `name` is for messages only (a path, or
// "-" for stdin); the bytes outlive every reader made from them.
struct EncodedImage {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::string name;
};

// One file of a format whose header its decoder has read: the size of the
// image decode() will allocate is known, and nothing that size has been
// allocated yet (the caller checks it against --max-pixels in between).
class ImageReader {
 public:
  virtual ~ImageReader() = default;
  ImageReader(const ImageReader&) = delete;
  ImageReader& operator=(const ImageReader&) = delete;

  // Width and height of the image decode() allocates (before --exif apply
  // turns it).
  ImageSize size() const { return size_; }

  // The pixels, as PIL 9.4's Image.open(f).convert("RGB") gives them; called
  // at most once. Throws Error: kDecode for a damaged or truncated file
  // (never a blank or partial image), kUnsupportedFormat for a variant PIL
  // does not read either, kTooLarge for a decompression bomb. Each decoder
  // checks, where its format allows it, that the data can hold the image
  // before allocating it.
  virtual RgbImage decode() = 0;

 protected:
  explicit ImageReader(ImageSize size) : size_(size) {}

 private:
  ImageSize size_;
};

struct ImageFormat {
  const char* name;  // "JPEG": in messages, --help and the man page
  // Lower case, without the dot: what folder scans pick up by default.
  std::vector<std::string> extensions;
  // Whether the file's first bytes are this format's (never its name).
  bool (*sniff)(const std::uint8_t* data, std::size_t size);
  // Reads the header. Throws Error (kDecode, kUnsupportedFormat) when it
  // declares no image the decoder can allocate; damage found after the size
  // is known is thrown by decode(), so that --max-pixels is checked first.
  std::unique_ptr<ImageReader> (*open)(const EncodedImage& file,
                                       const DecodeOptions& options);
};

// The table, in sniffing order (TGA, which has no magic number, last).
const std::vector<const ImageFormat*>& image_formats();

// The format of the first row whose signature the bytes carry, or nullptr.
const ImageFormat* sniff_image_format(const std::uint8_t* data,
                                      std::size_t size);

// Formats recognised by their signature and refused as not read (OpenEXR,
// Radiance HDR): the name, or nullptr.
const char* unread_image_format(const std::uint8_t* data, std::size_t size);

// Every row's extensions, in table order: the folder scanner's default.
std::vector<std::string> image_format_extensions();

}  // namespace resnet_cli
