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
#include "image/formats/decoder_support.h"
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

// A JP2 file's codestream: the contents of its jp2c box, or nullptr.
const std::uint8_t* jp2_codestream(const std::uint8_t* data, std::size_t size,
                                   std::size_t* length) {
  std::size_t pos = 0;
  while (pos + 8 <= size) {
    std::uint64_t box = be32(data + pos);
    std::size_t header = 8;
    if (box == 1) {
      if (pos + 16 > size) return nullptr;
      box = (std::uint64_t{be32(data + pos + 8)} << 32) | be32(data + pos + 12);
      header = 16;
    } else if (box == 0) {
      box = size - pos;  // to the end of the file
    }
    if (box < header || box > size - pos) return nullptr;
    if (std::memcmp(data + pos + 4, "jp2c", 4) == 0) {
      *length = static_cast<std::size_t>(box) - header;
      return data + pos + header;
    }
    pos += static_cast<std::size_t>(box);
  }
  return nullptr;
}

// Whether the codestream certainly holds no tile data OpenJPEG can decode:
// no tile-part at all, or a tile-part whose declared length (Psot) runs past
// the end, which OpenJPEG in strict mode (as PIL runs it) refuses. Checked
// before decoding, since OpenJPEG sets up the image's tiles before it reads
// a tile-part. Anything it cannot be sure of is left to OpenJPEG.
bool lacks_tile_data(const std::uint8_t* cs, std::size_t size) {
  std::size_t pos = 2;  // after SOC
  for (;;) {  // the main header's marker segments, up to the first SOT
    if (pos + 4 > size) return true;
    const std::uint32_t marker = be16(cs + pos);
    if (marker == 0xFF90) break;
    if (marker == 0xFFD9) return true;  // EOC before any tile-part
    if ((marker >> 8) != 0xFF || be16(cs + pos + 2) < 2) return false;
    pos += 2 + std::size_t{be16(cs + pos + 2)};
  }
  while (pos + 12 <= size && be16(cs + pos) == 0xFF90) {
    const std::uint32_t psot = be32(cs + pos + 6);
    if (psot == 0) return false;  // the last tile-part, to the end
    if (psot > size - pos) return true;
    pos += psot;
  }
  return false;
}

using Codec = std::unique_ptr<opj_codec_t, void (*)(opj_codec_t*)>;
using Stream = std::unique_ptr<opj_stream_t, void (*)(opj_stream_t*)>;
using Image = std::unique_ptr<opj_image_t, void (*)(opj_image_t*)>;

class Jpeg2000Reader : public ImageReader {
 public:
  Jpeg2000Reader(ImageSize size, const EncodedImage& file, bool codestream,
                 std::unique_ptr<MemoryReader> source, Codec codec,
                 Stream stream, Image image)
      : ImageReader(size),
        file_(file),
        codestream_(codestream),
        source_(std::move(source)),
        codec_(std::move(codec)),
        stream_(std::move(stream)),
        image_(std::move(image)) {}

  // OpenJPEG allocates and fills the components as it decodes; the image is
  // allocated once they are there.
  RgbImage decode() override {
    const bool grey = is_grey(*image_, file_.name);
    check_image_size(size().width, size().height, file_.name);
    std::size_t length = file_.size;
    const std::uint8_t* codestream =
        codestream_ ? file_.data
                    : jp2_codestream(file_.data, file_.size, &length);
    if (codestream && lacks_tile_data(codestream, length)) {
      fail(ErrorKind::kDecode, file_.name,
           "JPEG 2000 tile data ends before the image (truncated)");
    }
    if (!opj_decode(codec_.get(), stream_.get(), image_.get()) ||
        !opj_end_decompress(codec_.get(), stream_.get())) {
      decode_failed(file_.name, *source_);
    }
    for (std::uint32_t c = 0; c < image_->numcomps; ++c) {
      const opj_image_comp_t& comp = image_->comps[c];
      if (!comp.data || comp.w != size().width || comp.h != size().height) {
        decode_failed(file_.name, *source_);
      }
    }
    const bool wide =
        wants_16_bits(file_.data, file_.size, codestream_, *image_);
    RgbImage out = new_rgb_image(size().width, size().height, file_.name);
    to_rgb(*image_, grey, wide, out);
    return out;
  }

 private:
  EncodedImage file_;
  bool codestream_;
  std::unique_ptr<MemoryReader> source_;
  Codec codec_;
  Stream stream_;
  Image image_;
};

constexpr char kJp2Signature[] = "\x00\x00\x00\x0CjP  \r\n\x87\n";

bool is_codestream(const std::uint8_t* data, std::size_t size) {
  return size >= 4 && std::memcmp(data, "\xFF\x4F\xFF\x51", 4) == 0;
}

bool sniff(const std::uint8_t* data, std::size_t size) {
  return is_codestream(data, size) ||
         (size >= 12 && std::memcmp(data, kJp2Signature, 12) == 0);
}

// The header is OpenJPEG's (the SIZ segment); its image area is the size
// allocated. PIL refuses a JP2 file whose boxes it cannot walk to the image
// header, and so does this.
std::unique_ptr<ImageReader> open(const EncodedImage& file,
                                  const DecodeOptions&) {
  const bool codestream = is_codestream(file.data, file.size);
  if (!codestream && !find_jp2_header(file.data, file.size)) {
    fail(ErrorKind::kDecode, file.name, "malformed JPEG 2000 header");
  }
  auto source = std::make_unique<MemoryReader>(file.data, file.size);
  Codec codec(opj_create_decompress(codestream ? OPJ_CODEC_J2K : OPJ_CODEC_JP2),
              opj_destroy_codec);
  Stream stream(opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE),
                opj_stream_destroy);
  if (!codec || !stream) fail(ErrorKind::kDecode, file.name, "out of memory");
  opj_set_error_handler(codec.get(), on_error, source.get());
  opj_set_warning_handler(codec.get(), on_message, source.get());
  opj_set_info_handler(codec.get(), on_message, source.get());
  opj_stream_set_user_data(stream.get(), source.get(), nullptr);
  opj_stream_set_user_data_length(stream.get(), file.size);
  opj_stream_set_read_function(stream.get(), read_source);
  opj_stream_set_skip_function(stream.get(), skip_source);
  opj_stream_set_seek_function(stream.get(), seek_source);

  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  opj_image_t* raw_image = nullptr;
  if (!opj_setup_decoder(codec.get(), &parameters) ||
      !opj_read_header(stream.get(), codec.get(), &raw_image)) {
    opj_image_destroy(raw_image);
    decode_failed(file.name, *source);
  }
  Image image(raw_image, opj_image_destroy);
  const ImageSize size{std::uint64_t{image->x1} - image->x0,
                       std::uint64_t{image->y1} - image->y0};
  return std::make_unique<Jpeg2000Reader>(size, file, codestream,
                                          std::move(source), std::move(codec),
                                          std::move(stream), std::move(image));
}

}  // namespace

const ImageFormat& jpeg2000_format() {
  static const ImageFormat format{
      "JPEG 2000", {"jp2", "j2k", "j2c", "jpc", "jpf", "jpx"}, sniff, open};
  return format;
}

}  // namespace resnet_cli::detail
