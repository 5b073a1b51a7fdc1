// JPEG 2000 (JP2 boxes or a bare codestream) with OpenJPEG, as PIL 9.4's
// Jpeg2KImagePlugin and Jpeg2KDecode.c read it. Each sample is brought to
// Pillow's mode the way its unpackers do: truncated to its storage size
// (1, 2 or 4 bytes), offset (signed samples; half a step when bits are
// dropped), shifted to 8 bits ("L", "LA", "RGB", "RGBA") or to 16 bits
// ("I;16": one component of 10 bits or more, clipped to 255 by
// convert("RGB")), and truncated to that width. Grey (+ alpha) and sRGB
// (+ alpha) without subsampling are read; sYCC and subsampled images are
// refused as not read.
#include <openjpeg.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "image/formats/bytes.h"
#include "image/formats/decoders.h"
#include "image/formats/jp2_header.h"

namespace resnet_cli::detail {

namespace {

OPJ_SIZE_T read_source(void* out, OPJ_SIZE_T count, void* user) {
  const std::size_t n = static_cast<MemoryReader*>(user)->read(out, count);
  return n == 0 ? static_cast<OPJ_SIZE_T>(-1) : n;
}

OPJ_OFF_T skip_source(OPJ_OFF_T count, void* user) {
  auto* source = static_cast<MemoryReader*>(user);
  if (count < 0) {
    const std::size_t back = std::min<std::size_t>(
        static_cast<std::size_t>(-count), source->position);
    source->position -= back;
    return -static_cast<OPJ_OFF_T>(back);
  }
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(count),
                                              source->size - source->position);
  source->position += n;
  return static_cast<OPJ_OFF_T>(n);
}

OPJ_BOOL seek_source(OPJ_OFF_T offset, void* user) {
  auto* source = static_cast<MemoryReader*>(user);
  if (offset < 0 || static_cast<std::uint64_t>(offset) > source->size) {
    return OPJ_FALSE;
  }
  source->position = static_cast<std::size_t>(offset);
  return OPJ_TRUE;
}

void on_error(const char* message, void* user) {
  std::string text = message ? message : "";
  while (!text.empty() && text.back() == '\n') text.pop_back();
  static_cast<MemoryReader*>(user)->keep_error(text);
}

void on_message(const char*, void*) {}

[[noreturn]] void decode_failed(const std::string& name,
                                const MemoryReader& source) {
  fail(ErrorKind::kDecode, name,
       "cannot decode JPEG 2000: " +
           (source.error.empty() ? std::string("damaged or truncated data")
                                 : source.error));
}

// Pillow's "I;16" mode: one component whose depth byte (bits - 1, from the
// JP2 header box, or from the codestream's SIZ segment) is above 8.
bool wants_16_bits(const std::uint8_t* data, std::size_t size, bool codestream,
                   const opj_image_t& image) {
  if (image.numcomps != 1) return false;
  if (codestream) return image.comps[0].prec - 1 > 8;
  const auto header = find_jp2_header(data, size);
  return header && header->components == 1 && (header->bits & 0x7F) > 8;
}

// Pillow's j2ku unpackers for one sample, to `bits` (8 or 16) bits.
std::uint32_t unpack(const opj_image_comp_t& comp, OPJ_INT32 value, int bits) {
  const int prec = static_cast<int>(comp.prec);
  const int shift = bits - prec;
  std::uint32_t offset = comp.sgnd ? 1u << (prec - 1) : 0;
  if (shift < 0) offset += 1u << (-shift - 1);
  int storage = (prec + 7) >> 3;
  if (storage == 3) storage = 4;
  const auto raw = static_cast<std::uint32_t>(value);
  const std::uint32_t word = storage == 1   ? raw & 0xFF
                             : storage == 2 ? raw & 0xFFFF
                                            : raw;
  const std::uint32_t sum = offset + word;
  const std::uint32_t shifted = shift < 0 ? sum >> -shift : sum << shift;
  return bits == 8 ? shifted & 0xFF : shifted & 0xFFFF;
}

}  // namespace

namespace {

// Whether the image is grey (else RGB), for the component layouts and
// colour spaces PIL reads; throws for the others.
bool is_grey(const opj_image_t& image, const std::string& name) {
  const std::uint32_t count = image.numcomps;
  if (count == 0 || count > 4) {
    fail(ErrorKind::kUnsupportedFormat, name,
         "JPEG 2000 with " + std::to_string(count) + " components");
  }
  OPJ_COLOR_SPACE space = image.color_space;
  for (std::uint32_t c = 0; c < count; ++c) {
    const opj_image_comp_t& comp = image.comps[c];
    if (comp.dx != 1 || comp.dy != 1 || comp.prec == 0 || comp.prec > 32) {
      fail(ErrorKind::kUnsupportedFormat, name,
           "JPEG 2000 with subsampled components is not read");
    }
  }
  if (space == OPJ_CLRSPC_UNKNOWN || space == OPJ_CLRSPC_UNSPECIFIED) {
    space = count <= 2 ? OPJ_CLRSPC_GRAY : OPJ_CLRSPC_SRGB;
  }
  const bool grey = space == OPJ_CLRSPC_GRAY && count <= 2;
  const bool rgb = space == OPJ_CLRSPC_SRGB && count >= 3;
  if (!grey && !rgb) {
    fail(ErrorKind::kUnsupportedFormat, name,
         "JPEG 2000 in this colour space is not read (sYCC, CMYK, ...)");
  }
  return grey;
}

// The decoded components as 8-bit RGB (grey replicated; `wide`: grey read
// as PIL's I;16, then clipped).
void to_rgb(const opj_image_t& image, bool grey, bool wide, RgbImage& out) {
  const std::size_t pixels = static_cast<std::size_t>(out.width) *
                             static_cast<std::size_t>(out.height);
  for (std::size_t i = 0; i < pixels; ++i) {
    std::uint8_t* px = out.pixels.data() + 3 * i;
    if (grey) {
      const std::uint32_t v =
          unpack(image.comps[0], image.comps[0].data[i], wide ? 16 : 8);
      px[0] = px[1] = px[2] = static_cast<std::uint8_t>(std::min(v, 255u));
    } else {
      for (int c = 0; c < 3; ++c) {
        px[c] = static_cast<std::uint8_t>(
            unpack(image.comps[c], image.comps[c].data[i], 8));
      }
    }
  }
}

}  // namespace

RgbImage decode_jpeg2000(const std::uint8_t* data, std::size_t size,
                         const std::string& name) {
  MemoryReader source{data, size};
  const bool codestream = size >= 2 && data[0] == 0xFF && data[1] == 0x4F;
  std::unique_ptr<opj_codec_t, void (*)(opj_codec_t*)> codec(
      opj_create_decompress(codestream ? OPJ_CODEC_J2K : OPJ_CODEC_JP2),
      opj_destroy_codec);
  std::unique_ptr<opj_stream_t, void (*)(opj_stream_t*)> stream(
      opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE),
      opj_stream_destroy);
  if (!codec || !stream) fail(ErrorKind::kDecode, name, "out of memory");
  opj_set_error_handler(codec.get(), on_error, &source);
  opj_set_warning_handler(codec.get(), on_message, &source);
  opj_set_info_handler(codec.get(), on_message, &source);
  opj_stream_set_user_data(stream.get(), &source, nullptr);
  opj_stream_set_user_data_length(stream.get(), size);
  opj_stream_set_read_function(stream.get(), read_source);
  opj_stream_set_skip_function(stream.get(), skip_source);
  opj_stream_set_seek_function(stream.get(), seek_source);

  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  opj_image_t* raw_image = nullptr;
  if (!opj_setup_decoder(codec.get(), &parameters) ||
      !opj_read_header(stream.get(), codec.get(), &raw_image)) {
    opj_image_destroy(raw_image);
    decode_failed(name, source);
  }
  std::unique_ptr<opj_image_t, void (*)(opj_image_t*)> image(raw_image,
                                                             opj_image_destroy);
  const std::uint32_t count = image->numcomps;
  const bool grey = is_grey(*image, name);
  const std::uint64_t width = image->x1 - image->x0;
  const std::uint64_t height = image->y1 - image->y0;
  RgbImage out = new_rgb_image(width, height, name);
  if (!opj_decode(codec.get(), stream.get(), image.get()) ||
      !opj_end_decompress(codec.get(), stream.get())) {
    decode_failed(name, source);
  }
  for (std::uint32_t c = 0; c < count; ++c) {
    const opj_image_comp_t& comp = image->comps[c];
    if (!comp.data || comp.w != width || comp.h != height) {
      decode_failed(name, source);
    }
  }
  const bool wide = wants_16_bits(data, size, codestream, *image);
  to_rgb(*image, grey, wide, out);
  return out;
}

}  // namespace resnet_cli::detail
