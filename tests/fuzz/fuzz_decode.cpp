// libFuzzer target: decode and preprocess an image from memory. Any error
// must come out as resnet_cli::Error; anything else (a crash, a sanitizer
// report, another exception) is a finding.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/error.h"
#include "image/decode.h"
#include "image/preprocess.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // --allow-truncated's warning
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  // The last byte picks the options, so that one corpus covers them all.
  const std::uint8_t choice = size > 0 ? data[size - 1] : 0;
  resnet_cli::DecodeOptions options;
  options.apply_exif_orientation = choice & 1;
  options.allow_truncated = choice & 2;
  options.max_pixels = 1u << 22;  // keeps each run small
  resnet_cli::TransformSpec spec;
  spec.resize_size = 40 + (choice >> 4);
  spec.crop_size = 32;
  spec.interpolation =
      static_cast<resnet_cli::Interpolation>((choice >> 2) % 3);
  try {
    const resnet_cli::RgbImage image =
        resnet_cli::decode_image_bytes(data, size, "fuzz", options);
    std::vector<float> chw(3 * 32 * 32);
    resnet_cli::preprocess(image, spec, chw.data());
  } catch (const resnet_cli::Error&) {
  }
  return 0;
}
