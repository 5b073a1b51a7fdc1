// Bounds-checked reading of little- and big-endian fields from a file held
// in memory, for the decoders and the header reader. Internal.
#pragma once

#include <cstddef>
#include <cstdint>

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

}  // namespace resnet_cli::detail
