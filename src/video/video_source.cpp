#include "video/video_source.h"

#include <algorithm>
#include <cstring>

#include "base/text.h"

namespace resnet_cli {

namespace {

bool starts_with(const std::uint8_t* data, std::size_t size, std::size_t offset,
                 const char* magic) {
  const std::size_t length = std::strlen(magic);
  return size >= offset + length &&
         std::memcmp(data + offset, magic, length) == 0;
}

}  // namespace

bool is_stream_url(std::string_view path) {
  const auto colon = path.find("://");
  if (colon == std::string_view::npos) return false;
  static const char* const kSchemes[] = {"http", "https", "rtsp", "rtsps",
                                         "rtmp", "rtmps", "udp",  "tcp",
                                         "srt",  "rtp"};
  const std::string scheme = detail::ascii_lower(path.substr(0, colon));
  return std::any_of(std::begin(kSchemes), std::end(kSchemes),
                     [&](const char* known) { return scheme == known; });
}

const std::vector<std::string>& default_video_extensions() {
  static const std::vector<std::string> extensions = {
      "mp4",  "m4v", "mov", "avi", "mkv", "webm", "mpg",   "mpeg", "ts",
      "m2ts", "mts", "wmv", "flv", "3gp", "ogv",  "mjpeg", "h264", "hevc"};
  return extensions;
}

bool has_video_extension(std::string_view path) {
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos ||
      (slash != std::string_view::npos && dot < slash)) {
    return false;
  }
  const std::string extension = detail::ascii_lower(path.substr(dot + 1));
  const auto& known = default_video_extensions();
  return std::find(known.begin(), known.end(), extension) != known.end();
}

bool looks_like_video_container(const std::uint8_t* data, std::size_t size) {
  static const std::uint8_t kEbml[] = {0x1A, 0x45, 0xDF, 0xA3};
  static const std::uint8_t kAsf[] = {0x30, 0x26, 0xB2, 0x75,
                                      0x8E, 0x66, 0xCF, 0x11};
  static const std::uint8_t kMpegPack[] = {0x00, 0x00, 0x01, 0xBA};
  if (starts_with(data, size, 4, "ftyp")) return true;  // MP4, MOV, 3GP
  if (starts_with(data, size, 0, "RIFF") &&
      starts_with(data, size, 8, "AVI ")) {
    return true;
  }
  if (size >= 4 && std::memcmp(data, kEbml, 4) == 0) return true;
  if (size >= 8 && std::memcmp(data, kAsf, 8) == 0) return true;
  if (size >= 4 && std::memcmp(data, kMpegPack, 4) == 0) return true;
  if (starts_with(data, size, 0, "FLV") || starts_with(data, size, 0, "OggS")) {
    return true;
  }
  // MPEG transport stream: sync bytes every 188 bytes.
  return size >= 189 && data[0] == 0x47 && data[188] == 0x47;
}

}  // namespace resnet_cli
