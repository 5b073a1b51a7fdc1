// What decoding and preprocessing one image holds in memory at its peak,
// known from its header before any pixel is allocated: the pixels the
// header declares times what its format's decoder allocates per pixel
// (README: Serving, "Memory", measured for each decoder), plus a fixed part
// for the resized copy and the crop. The input bytes are not counted: they
// are the request body's, counted against --body-memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "image/image_format.h"

namespace resnet_cli::server {

struct DecodeCost {
  std::uint64_t width = 0;   // as the header declares them; 0 when the
  std::uint64_t height = 0;  // decoder refuses the file before allocating
  std::uint64_t bytes = 0;   // 0 then too
};

// Reads only the header, with the format's own reader; never throws.
DecodeCost decode_cost(const std::uint8_t* data, std::size_t size,
                       const DecodeOptions& options);

// What the table charges a pixel of `format`; nullopt for a format it does
// not list (then charged the most; a test checks every row is listed).
std::optional<std::uint64_t> decode_bytes_per_pixel(const ImageFormat& format);

}  // namespace resnet_cli::server
