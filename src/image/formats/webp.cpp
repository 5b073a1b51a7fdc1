// WebP with libwebp, as PIL 9.4 reads every WebP file, still or animated:
// the first frame on its canvas in RGBA (libwebp's default options), alpha
// dropped. The header is libwebp's demuxer; the canvas it gives is the size
// allocated.
//
// A still image (one frame the size of the canvas) is decoded on its own,
// into memory libwebp allocates and fills as it decodes, so that a file
// whose data ends early costs what was decoded; an animation goes through
// libwebp's animation decoder, which paints the first frame on a cleared
// canvas (PIL's reader).
#include <webp/decode.h>
#include <webp/demux.h>

#include <cstring>
#include <memory>

#include "image/formats/decoder_support.h"

namespace resnet_cli::detail {

namespace {

bool sniff(const std::uint8_t* data, std::size_t size) {
  return size >= 12 && std::memcmp(data, "RIFF", 4) == 0 &&
         std::memcmp(data + 8, "WEBP", 4) == 0;
}

Error damaged_error(const std::string& name) {
  return Error(ErrorKind::kDecode,
               name + ": cannot decode WebP (damaged or truncated)");
}

[[noreturn]] void damaged(const std::string& name) {
  throw damaged_error(name);
}

// RGBA from libwebp to the image's RGB.
RgbImage drop_alpha(const std::uint8_t* rgba, std::size_t stride,
                    ImageSize size, const std::string& name) {
  RgbImage image = new_rgb_image(size.width, size.height, name);
  for (int y = 0; y < image.height; ++y) {
    const std::uint8_t* in = rgba + static_cast<std::size_t>(y) * stride;
    std::uint8_t* out = image.row(y);
    for (int x = 0; x < image.width; ++x, in += 4, out += 3) {
      std::memcpy(out, in, 3);
    }
  }
  return image;
}

class WebpReader : public ImageReader {
 public:
  WebpReader(ImageSize size, const EncodedImage& file, bool still)
      : ImageReader(size), file_(file), still_(still) {}

  RgbImage decode() override {
    return still_ ? decode_still() : decode_first_frame();
  }

 private:
  RgbImage decode_still() {
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) damaged(file_.name);
    config.output.colorspace = MODE_RGBA;
    std::unique_ptr<WebPDecBuffer, void (*)(WebPDecBuffer*)> output(
        &config.output, WebPFreeDecBuffer);
    if (WebPDecode(file_.data, file_.size, &config) != VP8_STATUS_OK ||
        config.output.width != static_cast<int>(size().width) ||
        config.output.height != static_cast<int>(size().height)) {
      fail(ErrorKind::kDecode, file_.name,
           "cannot decode WebP's first frame (damaged or truncated)");
    }
    const WebPRGBABuffer& rgba = config.output.u.RGBA;
    return drop_alpha(rgba.rgba, static_cast<std::size_t>(rgba.stride), size(),
                      file_.name);
  }

  RgbImage decode_first_frame() {
    check_image_size(size().width, size().height, file_.name);
    WebPData input{file_.data, file_.size};
    std::unique_ptr<WebPAnimDecoder, void (*)(WebPAnimDecoder*)> decoder(
        WebPAnimDecoderNew(&input, nullptr), WebPAnimDecoderDelete);
    WebPAnimInfo info{};
    if (!decoder || !WebPAnimDecoderGetInfo(decoder.get(), &info) ||
        info.canvas_width != size().width ||
        info.canvas_height != size().height) {
      damaged(file_.name);
    }
    std::uint8_t* rgba = nullptr;
    int timestamp = 0;
    if (!WebPAnimDecoderGetNext(decoder.get(), &rgba, &timestamp) || !rgba) {
      fail(ErrorKind::kDecode, file_.name,
           "cannot decode WebP's first frame (damaged or truncated)");
    }
    return drop_alpha(rgba, std::size_t{info.canvas_width} * 4, size(),
                      file_.name);
  }

  EncodedImage file_;
  bool still_;
};

std::unique_ptr<ImageReader> open(const EncodedImage& file,
                                  const DecodeOptions&) {
  WebPData input{file.data, file.size};
  WebPDemuxState state = WEBP_DEMUX_PARSE_ERROR;
  std::unique_ptr<WebPDemuxer, void (*)(WebPDemuxer*)> demux(
      WebPDemuxPartial(&input, &state), WebPDemuxDelete);
  if (!demux || state < WEBP_DEMUX_PARSED_HEADER) damaged(file.name);
  const ImageSize canvas{WebPDemuxGetI(demux.get(), WEBP_FF_CANVAS_WIDTH),
                         WebPDemuxGetI(demux.get(), WEBP_FF_CANVAS_HEIGHT)};
  // The canvas is known: a file cut short is refused after --max-pixels.
  if (state != WEBP_DEMUX_DONE) {
    return std::make_unique<FailedReader>(canvas, damaged_error(file.name));
  }
  const bool animated =
      WebPDemuxGetI(demux.get(), WEBP_FF_FORMAT_FLAGS) & ANIMATION_FLAG;
  bool still = false;
  WebPIterator frame;
  if (!animated && WebPDemuxGetFrame(demux.get(), 1, &frame)) {
    still = frame.num_frames == 1 && frame.x_offset == 0 &&
            frame.y_offset == 0 &&
            static_cast<std::uint64_t>(frame.width) == canvas.width &&
            static_cast<std::uint64_t>(frame.height) == canvas.height;
    WebPDemuxReleaseIterator(&frame);
  }
  return std::make_unique<WebpReader>(canvas, file, still);
}

}  // namespace

const ImageFormat& webp_format() {
  static const ImageFormat format{"WebP", {"webp"}, sniff, open};
  return format;
}

}  // namespace resnet_cli::detail
