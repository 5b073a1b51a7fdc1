// PIL's limits on a PNG's ancillary chunks (PngImagePlugin 9.4), checked
// before libpng decodes: a zTXt, iTXt or iCCP chunk that inflates past
// MAX_TEXT_CHUNK (ImageFile.SAFEBLOCK, 1 MiB) is a decompression bomb, text
// chunks together past MAX_TEXT_MEMORY (64 MiB) too; an unknown compression
// method in zTXt or iCCP makes PIL refuse the file. libpng itself would skip
// such chunks (or spend the memory) and decode the pixels.
#include "image/formats/png_chunks.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "image/formats/bytes.h"
#include "image/formats/decoder_support.h"

namespace resnet_cli::detail {

namespace {

constexpr std::size_t kMaxTextChunk = 1024 * 1024;
constexpr std::size_t kMaxTextMemory = 64 * kMaxTextChunk;

enum class Inflated { kFits, kTooLarge, kBroken };

// Python's zlib.decompressobj().decompress(data, kMaxTextChunk): too large
// when input is left over once the limit is reached. `out_size` gets the
// bytes produced.
Inflated inflate_limited(const std::uint8_t* data, std::size_t size,
                         std::size_t* out_size) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) return Inflated::kBroken;
  std::vector<std::uint8_t> out(kMaxTextChunk);
  stream.next_in = const_cast<std::uint8_t*>(data);
  stream.avail_in = static_cast<uInt>(size);
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = inflate(&stream, Z_SYNC_FLUSH);
  *out_size = out.size() - stream.avail_out;
  const bool tail = stream.avail_out == 0 && stream.avail_in > 0;
  inflateEnd(&stream);
  if (tail) return Inflated::kTooLarge;
  if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) {
    return Inflated::kBroken;
  }
  return Inflated::kFits;
}

// Characters in UTF-8 text: bytes that do not continue a sequence.
std::size_t utf8_length(const std::uint8_t* text, std::size_t size) {
  return static_cast<std::size_t>(std::count_if(
      text, text + size, [](std::uint8_t c) { return (c & 0xC0) != 0x80; }));
}

struct TextBudget {
  const std::string& name;
  std::size_t used = 0;

  void add(std::size_t characters) {
    used += characters;
    if (used > kMaxTextMemory) {
      fail(ErrorKind::kTooLarge, name,
           "PNG text chunks hold more than 64 MiB (PIL's MAX_TEXT_MEMORY)");
    }
  }
};

[[noreturn]] void bomb(const std::string& name, const char* chunk) {
  fail(ErrorKind::kTooLarge, name,
       std::string("PNG ") + chunk +
           " chunk inflates past 1 MiB (PIL's MAX_TEXT_CHUNK): a "
           "decompression bomb");
}

void check_compressed(const std::uint8_t* z, std::size_t size,
                      const char* chunk, const std::string& name,
                      std::size_t* out_size) {
  switch (inflate_limited(z, size, out_size)) {
    case Inflated::kTooLarge:
      bomb(name, chunk);
    case Inflated::kBroken:  // PIL ignores a chunk zlib cannot read
      *out_size = 0;
      break;
    case Inflated::kFits:
      break;
  }
}

void check_chunk(const char* type, const std::uint8_t* p, std::size_t n,
                 TextBudget& budget, const std::string& name) {
  const std::uint8_t* nul =
      static_cast<const std::uint8_t*>(std::memchr(p, 0, n));
  if (std::memcmp(type, "tEXt", 4) == 0) {
    if (nul != p) budget.add(nul ? n - (nul - p) - 1 : 0);
  } else if (std::memcmp(type, "zTXt", 4) == 0) {
    const std::size_t rest = nul ? n - (nul - p) - 1 : 0;
    if (rest > 0 && nul[1] != 0) {
      fail(ErrorKind::kDecode, name,
           "unknown compression method in a PNG zTXt chunk");
    }
    std::size_t text = 0;
    if (rest > 1) check_compressed(nul + 2, rest - 1, "zTXt", name, &text);
    if (nul != p) budget.add(text);
  } else if (std::memcmp(type, "iCCP", 4) == 0) {
    if (!nul || nul + 1 >= p + n) return;
    if (nul[1] != 0) {
      fail(ErrorKind::kDecode, name,
           "unknown compression method in a PNG iCCP chunk");
    }
    std::size_t profile = 0;
    check_compressed(nul + 2, n - (nul - p) - 2, "iCCP", name, &profile);
  } else if (std::memcmp(type, "iTXt", 4) == 0) {
    if (!nul || n - (nul - p) - 1 < 2) return;
    const std::uint8_t* r = nul + 1;
    const bool compressed = r[0] != 0;
    const std::uint8_t method = r[1];
    const std::uint8_t* end = p + n;
    const std::uint8_t* lang_end =
        static_cast<const std::uint8_t*>(std::memchr(r + 2, 0, end - (r + 2)));
    if (!lang_end) return;
    const std::uint8_t* key_end = static_cast<const std::uint8_t*>(
        std::memchr(lang_end + 1, 0, end - (lang_end + 1)));
    if (!key_end) return;
    const std::uint8_t* value = key_end + 1;
    std::size_t text = static_cast<std::size_t>(end - value);
    if (compressed) {
      if (method != 0) return;
      switch (inflate_limited(value, text, &text)) {
        case Inflated::kTooLarge:
          bomb(name, "iTXt");
        case Inflated::kBroken:
          return;
        case Inflated::kFits:
          break;
      }
      budget.add(text);  // (an approximation: bytes, not characters)
      return;
    }
    budget.add(utf8_length(value, text));
  }
}

}  // namespace

void check_png_chunks(const std::uint8_t* data, std::size_t size,
                      const std::string& name) {
  TextBudget budget{name};
  std::size_t pos = 8;
  while (pos <= size && size - pos >= 8) {
    const std::uint32_t length = be32(data + pos);
    const char* type = reinterpret_cast<const char*>(data + pos + 4);
    if (std::memcmp(type, "IEND", 4) == 0) return;
    if (length > size - pos - 8) return;  // truncated: libpng reports it
    check_chunk(type, data + pos + 8, length, budget, name);
    pos += std::size_t{12} + length;
  }
}

}  // namespace resnet_cli::detail
