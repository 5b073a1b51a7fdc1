// Bounds-checked reading of little- and big-endian fields from a file held
// in memory, for the decoders and the header reader. Internal.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace resnet_cli::detail {

inline std::uint32_t be16(const std::uint8_t* p) { return (p[0] << 8) | p[1]; }
inline std::uint32_t le16(const std::uint8_t* p) { return (p[1] << 8) | p[0]; }
inline std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}
inline std::uint32_t le32(const std::uint8_t* p) {
  return (std::uint32_t{p[3]} << 24) | (p[2] << 16) | (p[1] << 8) | p[0];
}
inline std::uint32_t le24(const std::uint8_t* p) {
  return (p[2] << 16) | (p[1] << 8) | p[0];
}

// A view of the file's bytes; every read checks that the bytes are there.
struct Bytes {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;

  // `count` bytes from `offset` lie inside the file.
  bool has(std::size_t offset, std::size_t count) const {
    return offset <= size && count <= size - offset;
  }
};

// A file held in memory, read through a library's callbacks (giflib,
// libtiff, OpenJPEG), with the library's first error message kept for the
// record.
struct MemoryReader {
  MemoryReader(const std::uint8_t* bytes, std::size_t count)
      : data(bytes), size(count) {}

  const std::uint8_t* data;
  std::size_t size;
  std::size_t position = 0;
  std::string error;

  // Copies up to `count` bytes; returns how many there were.
  std::size_t read(void* out, std::size_t count) {
    if (position >= size) return 0;  // (a seek may go past the end)
    const std::size_t n = std::min(count, size - position);
    if (n > 0) std::memcpy(out, data + position, n);
    position += n;
    return n;
  }
  void keep_error(const std::string& message) {
    if (error.empty()) error = message;
  }
};

}  // namespace resnet_cli::detail
