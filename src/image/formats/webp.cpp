// WebP with libwebp's animation decoder, as PIL 9.4 reads every WebP file,
// still or animated: the first frame on its canvas in RGBA (libwebp's
// default options), alpha dropped.
#include <webp/demux.h>

#include <memory>

#include "image/formats/decoders.h"

namespace resnet_cli::detail {

RgbImage decode_webp(const std::uint8_t* data, std::size_t size,
                     const std::string& name) {
  WebPData input{data, size};
  std::unique_ptr<WebPAnimDecoder, void (*)(WebPAnimDecoder*)> decoder(
      WebPAnimDecoderNew(&input, nullptr), WebPAnimDecoderDelete);
  WebPAnimInfo info{};
  if (!decoder || !WebPAnimDecoderGetInfo(decoder.get(), &info)) {
    fail(ErrorKind::kDecode, name, "cannot decode WebP (damaged or truncated)");
  }
  RgbImage image = new_rgb_image(info.canvas_width, info.canvas_height, name);
  std::uint8_t* rgba = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(decoder.get(), &rgba, &timestamp) || !rgba) {
    fail(ErrorKind::kDecode, name,
         "cannot decode WebP's first frame (damaged or truncated)");
  }
  const std::size_t pixels = image.pixels.size() / 3;
  for (std::size_t i = 0; i < pixels; ++i) {
    image.pixels[3 * i] = rgba[4 * i];
    image.pixels[3 * i + 1] = rgba[4 * i + 1];
    image.pixels[3 * i + 2] = rgba[4 * i + 2];
  }
  return image;
}

}  // namespace resnet_cli::detail
