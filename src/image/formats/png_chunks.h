// PIL's limits on a PNG's ancillary chunks (PngImagePlugin 9.4), checked
// before the pixels are decoded. Internal to the image module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace resnet_cli::detail {

// Throws kTooLarge for a zTXt, iTXt or iCCP chunk that inflates past 1 MiB
// or text past 64 MiB in all (PngImagePlugin's MAX_TEXT_CHUNK,
// MAX_TEXT_MEMORY), kDecode for an unknown compression method.
void check_png_chunks(const std::uint8_t* data, std::size_t size,
                      const std::string& name);

}  // namespace resnet_cli::detail
