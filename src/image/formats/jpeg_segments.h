// A JPEG file's header segments, walked as libjpeg skips through them: for
// PIL's open-time Exif check (jpeg.cpp) and the Exif orientation (exif.cpp).
// Internal to the image module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace resnet_cli::detail {

// Calls `visit(marker, payload, payload_size)` for each JPEG header segment
// before the image data, in file order, until it returns false. Bytes
// between segments are skipped to the next marker, as libjpeg skips them.
// Segments whose length runs past `size` end the walk.
void visit_jpeg_segments(
    const std::uint8_t* data, std::size_t size,
    const std::function<bool(std::uint8_t marker, const std::uint8_t* payload,
                             std::size_t payload_size)>& visit);

}  // namespace resnet_cli::detail
