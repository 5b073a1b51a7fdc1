// The table of image formats (image/image_format.h): sniffing; the size each
// format's reader gives (what --max-pixels is checked on), from headers
// alone; and, for every row of the table, that folders are scanned for its
// extensions by default, that --help and the man page name it, and that
// --max-pixels limits it with the size its decoder allocates.
#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "image/decode.h"
#include "image/image_format.h"
#include "options.h"
#include "run/inputs.h"
#include "test_support.h"

using namespace resnet_cli;

namespace {

EncodedImage encoded(const std::string& bytes) {
  return {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
          "test"};
}

std::string format_of(const std::string& bytes) {
  const ImageFormat* format =
      sniff_image_format(encoded(bytes).data, bytes.size());
  return format ? format->name : "";
}

// The size the format's reader gives, or nullopt when it refuses the header.
std::optional<ImageSize> size_of(const std::string& bytes) {
  const EncodedImage file = encoded(bytes);
  const ImageFormat* format = sniff_image_format(file.data, file.size);
  if (!format) return std::nullopt;
  try {
    return format->open(file, {})->size();
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
          static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string le32(std::uint32_t v) {
  return {static_cast<char>(v), static_cast<char>(v >> 8),
          static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
}
std::string le16(std::uint16_t v) {
  return {static_cast<char>(v), static_cast<char>(v >> 8)};
}

// A PNG chunk with its CRC (zlib's polynomial, bit by bit).
std::string png_chunk(const std::string& type, const std::string& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : type + data) {
    crc ^= static_cast<std::uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
  }
  return be32(static_cast<std::uint32_t>(data.size())) + type + data +
         be32(~crc);
}

void check_size(const std::optional<ImageSize>& size, std::uint64_t width,
                std::uint64_t height) {
  REQUIRE(size);
  CHECK(size->width == width);
  CHECK(size->height == height);
}

std::string help_text() {
  const char* argv[] = {"resnet-cli", "--help"};
  std::ostringstream out, err;
  const cli::ParseOutcome outcome = cli::parse_command_line(2, argv, out, err);
  CHECK(outcome.exit_code == 0);
  return out.str();
}

std::string upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

std::string joined(const std::vector<std::string>& words, const char* glue) {
  std::string text;
  for (const std::string& word : words)
    text += (text.empty() ? "" : glue) + word;
  return text;
}

}  // namespace

TEST_CASE("formats are sniffed from magic bytes", "[formats]") {
  CHECK(format_of("\xFF\xD8\xFF\xE0") == "JPEG");
  CHECK(format_of("\x89PNG\r\n\x1A\n") == "PNG");
  CHECK(format_of("GIF89a") == "GIF");
  CHECK(format_of(std::string("II*\0", 4)) == "TIFF");
  CHECK(format_of(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16)) == "WebP");
  CHECK(format_of("P6\n3 2\n255\n") == "PNM");
  CHECK(format_of(std::string("\xFF\x4F\xFF\x51", 4)) == "JPEG 2000");
  CHECK(format_of("<html>").empty());
  CHECK(format_of("").empty());
  const std::string exr("\x76\x2F\x31\x01", 4);
  CHECK(format_of(exr).empty());
  CHECK(std::string(unread_image_format(encoded(exr).data, exr.size())) ==
        "OpenEXR");
}

TEST_CASE("the size a format's reader gives, from its header", "[formats]") {
  const std::string png_signature = "\x89PNG\r\n\x1A\n";
  check_size(size_of(png_signature +
                     png_chunk("IHDR", be32(100000) + be32(7) +
                                           std::string("\x08\x02\0\0\0", 5))),
             100000, 7);
  // BMP: a negative height is a top-down bitmap.
  check_size(
      size_of("BM" + std::string(12, '\0') + le32(40) + le32(300) +
              le32(static_cast<std::uint32_t>(-200)) + std::string(28, '\0')),
      300, 200);
  check_size(size_of("GIF89a" + le16(640) + le16(480) + std::string(3, '\0')),
             640, 480);
  check_size(size_of("P5 # a comment\n 17 # more\n9\n255\n"), 17, 9);
  // PIL ends a PNM comment at CR as well as LF, and so do the reader and
  // the decoder (once two parsers disagreed: 1x1 checked, 15000x15000
  // allocated).
  check_size(size_of("P6\n#\r15000 15000\n1 1\n255\n"), 15000, 15000);
  // WebP's extended header stores width - 1 and height - 1 in 24 bits.
  check_size(
      size_of("RIFF" + le32(30) + "WEBPVP8X" + le32(10) + std::string(4, '\0') +
              std::string("\x1F\x4E\x00", 3) + std::string("\x2F\x75\x00", 3)),
      20000, 30000);
  // TIFF, big-endian: ImageWidth as LONG, ImageLength as SHORT, one strip.
  std::string tiff =
      std::string("MM\0*", 4) + be32(8) + std::string("\0\x06", 2);
  auto entry = [](std::uint16_t tag, std::uint16_t type, std::uint32_t value) {
    const std::string value_bytes =
        type == 3 ? std::string{static_cast<char>(value >> 8),
                                static_cast<char>(value), 0, 0}
                  : be32(value);
    return std::string{static_cast<char>(tag >> 8), static_cast<char>(tag), 0,
                       static_cast<char>(type)} +
           be32(1) + value_bytes;
  };
  tiff += entry(256, 4, 70000) + entry(257, 3, 5) + entry(258, 3, 8) +
          entry(262, 3, 1) + entry(273, 4, 200) + entry(279, 4, 350000) +
          be32(0);
  check_size(size_of(tiff), 70000, 5);
  // A JPEG frame header after an APP0 segment: SOF0 with length 11,
  // precision 8, height 300, width 100, one component.
  check_size(
      size_of(std::string("\xFF\xD8\xFF\xE0\x00\x04\x00\x00", 8) +
              std::string("\xFF\xC0\x00\x0B\x08\x01\x2C\x00\x64\x01", 10) +
              std::string("\x01\x11\x00", 3)),
      100, 300);
  // TGA: no magic number, a header PIL would take.
  check_size(size_of(std::string("\0\0\x02", 3) + std::string(9, '\0') +
                     le16(640) + le16(400) + std::string("\x18\x20", 2)),
             640, 400);
}

TEST_CASE("incomplete or malformed headers declare nothing", "[formats]") {
  CHECK_FALSE(size_of("\x89PNG\r\n\x1A\n"));
  CHECK_FALSE(size_of("GIF89a\x01"));
  CHECK_FALSE(size_of("P6\n3"));
  CHECK_FALSE(
      size_of(std::string("II*\0", 4) + le32(4000)));  // IFD past the end
  CHECK_FALSE(size_of("\xFF\xD8\xFF\xDA\x00\x02"));    // data before a frame
  CHECK_FALSE(size_of("RIFF" + le32(30) + "WEBPVP8 " + std::string(18, '\0')));
}

TEST_CASE("every test image's reader gives the size PIL reads",
          "[formats][oracle]") {
  for (const auto& image : testing::manifest().at("images")) {
    INFO(image.at("file"));
    const std::string bytes = testing::read_file(
        testing::fixture(image.at("file").get<std::string>()));
    check_size(size_of(bytes), image.at("size")[0].get<std::uint64_t>(),
               image.at("size")[1].get<std::uint64_t>());
  }
}

TEST_CASE(
    "every format of the table is scanned by default and named in --help and "
    "the man page",
    "[formats]") {
  // --help wraps its paragraphs: compared with the line breaks as spaces.
  const std::string help =
      std::regex_replace(help_text(), std::regex("\\s+"), " ");
  const std::string man_page = testing::read_file(RESNET_CLI_MAN_PAGE);
  const auto folder = testing::temp_dir("format-extensions");
  std::set<std::string> expected;
  for (const ImageFormat* format : image_formats()) {
    INFO(format->name);
    REQUIRE_FALSE(format->extensions.empty());
    const std::string extensions = joined(format->extensions, ", ");
    CHECK_THAT(help, Catch::Contains(" " + std::string(format->name) + " (" +
                                     extensions + ")"));
    CHECK_THAT(man_page,
               Catch::Contains(".TP\n\\fB" + std::string(format->name) +
                               "\\fR\n" + extensions + "\n"));
    for (const std::string& extension : format->extensions) {
      // Folder scans match extensions without regard to case.
      for (const std::string& name :
           {"a." + extension, "B." + upper(extension)}) {
        testing::write_text(folder / name, "");
        expected.insert((folder / name).string());
      }
    }
  }
  testing::write_text(folder / "notes.txt", "");
  InputOptions options;
  options.paths = {folder.string()};
  InputScanner scanner(options);
  std::set<std::string> scanned;
  for (Input input; scanner.next(input);) scanned.insert(input.path);
  CHECK(scanned == expected);
}

TEST_CASE(
    "every format's reader gives the size its decoder allocates, and "
    "--max-pixels limits it",
    "[formats][samples]") {
  const std::filesystem::path cases = RESNET_CLI_FORMAT_CASES;
  const auto samples =
      nlohmann::json::parse(testing::read_file(cases / "samples.json"));
  std::set<std::string> sampled;
  for (const auto& sample : samples) {
    const std::string name = sample.at("format");
    INFO(name);
    sampled.insert(name);
    const std::string bytes = testing::read_file(cases / sample.at("file"));
    CHECK(format_of(bytes) == name);
    const std::uint64_t width = sample.at("size")[0];
    const std::uint64_t height = sample.at("size")[1];
    check_size(size_of(bytes), width, height);
    const EncodedImage file = encoded(bytes);
    const RgbImage decoded =
        sniff_image_format(file.data, file.size)->open(file, {})->decode();
    CHECK(static_cast<std::uint64_t>(decoded.width) == width);
    CHECK(static_cast<std::uint64_t>(decoded.height) == height);
    // PIL refuses above twice the limit: just below, and just at it.
    DecodeOptions options;
    options.max_pixels = (width * height - 1) / 2;
    try {
      decode_image_bytes(file.data, file.size, "sample", options);
      FAIL("decoded above twice --max-pixels");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kTooLarge);
    }
    options.max_pixels = width * height;
    CHECK(decode_image_bytes(file.data, file.size, "sample", options).width ==
          decoded.width);
  }
  for (const ImageFormat* format : image_formats()) {
    INFO("tests/oracle/make_format_cases.py makes no sample of "
         << format->name);
    CHECK(sampled.count(format->name) == 1);
  }
}
