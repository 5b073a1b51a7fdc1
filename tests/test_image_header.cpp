// Formats and declared sizes, read from headers alone.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "image/image_header.h"
#include "test_support.h"

using namespace resnet_cli;

namespace {

std::optional<ImageSize> size_of(const std::string& bytes) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  return read_image_size(sniff_image_format(data, bytes.size()), data,
                         bytes.size());
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

void check_size(const std::optional<ImageSize>& size, std::uint64_t width,
                std::uint64_t height) {
  REQUIRE(size);
  CHECK(size->width == width);
  CHECK(size->height == height);
}

}  // namespace

TEST_CASE("formats are sniffed from magic bytes", "[image_header]") {
  auto format = [](const std::string& bytes) {
    return sniff_image_format(
        reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  };
  CHECK(format("\xFF\xD8\xFF\xE0") == ImageFormat::kJpeg);
  CHECK(format("\x89PNG\r\n\x1A\n") == ImageFormat::kPng);
  CHECK(format("GIF89a") == ImageFormat::kGif);
  CHECK(format(std::string("II*\0", 4)) == ImageFormat::kTiff);
  CHECK(format(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16)) ==
        ImageFormat::kWebp);
  CHECK(format("P6\n3 2\n255\n") == ImageFormat::kPnm);
  CHECK(format("<html>") == ImageFormat::kUnknown);
  CHECK(format("") == ImageFormat::kUnknown);
}

TEST_CASE("declared sizes, format by format", "[image_header]") {
  const std::string png_signature = "\x89PNG\r\n\x1A\n";
  check_size(size_of(png_signature + be32(13) + "IHDR" + be32(100000) +
                     be32(7) + std::string("\x08\x02\0\0\0", 5)),
             100000, 7);
  // BMP: a negative height is a top-down bitmap.
  check_size(
      size_of("BM" + std::string(12, '\0') + le32(40) + le32(300) +
              le32(static_cast<std::uint32_t>(-200)) + std::string(8, '\0')),
      300, 200);
  check_size(size_of("GIF89a" + le16(640) + le16(480)), 640, 480);
  check_size(size_of("P5 # a comment\n 17 # more\n9\n255\n"), 17, 9);
  // WebP's extended header stores width - 1 and height - 1 in 24 bits.
  check_size(
      size_of("RIFF" + le32(30) + "WEBPVP8X" + le32(10) + std::string(4, '\0') +
              std::string("\x3F\x42\x0F", 3) + std::string("\x00\x00\x01", 3)),
      1000000, 65537);
  // TIFF, big-endian: ImageWidth as LONG, ImageLength as SHORT.
  std::string tiff =
      std::string("MM\0*", 4) + be32(8) + std::string("\0\x02", 2);
  tiff += std::string("\x01\x00\x00\x04", 4) + be32(1) + be32(70000);
  tiff += std::string("\x01\x01\x00\x03", 4) + be32(1) +
          std::string("\x00\x05\0\0", 4);
  check_size(size_of(tiff), 70000, 5);
  // A JPEG frame header after an APP0 segment: SOF0 with length 11,
  // precision 8, height 300, width 100, one component.
  check_size(
      size_of(std::string("\xFF\xD8\xFF\xE0\x00\x04\x00\x00", 8) +
              std::string("\xFF\xC0\x00\x0B\x08\x01\x2C\x00\x64\x01", 10) +
              std::string("\x01\x11\x00", 3)),
      100, 300);
  // JPEG 2000 codestream: SIZ minus the image offset.
  check_size(size_of(std::string("\xFF\x4F\xFF\x51\x00\x29\x00\x00", 8) +
                     be32(500) + be32(400) + be32(100) + be32(0)),
             400, 400);
}

TEST_CASE("incomplete or malformed headers declare nothing", "[image_header]") {
  CHECK_FALSE(size_of("\x89PNG\r\n\x1A\n"));
  CHECK_FALSE(size_of("GIF89a\x01"));
  CHECK_FALSE(size_of("P6\n3"));
  CHECK_FALSE(
      size_of(std::string("II*\0", 4) + le32(4000)));  // IFD past the end
  CHECK_FALSE(size_of("\xFF\xD8\xFF\xDA\x00\x02"));    // data before a frame
  CHECK_FALSE(size_of("RIFF" + le32(30) + "WEBPVP8 " + std::string(18, '\0')));
}

TEST_CASE("every test image declares the size PIL reads",
          "[image_header][oracle]") {
  for (const auto& image : testing::manifest().at("images")) {
    INFO(image.at("file"));
    const std::string bytes = testing::read_file(
        testing::fixture(image.at("file").get<std::string>()));
    check_size(size_of(bytes), image.at("size")[0].get<std::uint64_t>(),
               image.at("size")[1].get<std::uint64_t>());
  }
}
