// The records of a zip archive as torch.save writes it, read from its
// central directory without LibTorch: `<archive>/data.pkl`,
// `<archive>/data/<key>`, `<archive>/version`, ..., each stored (not
// compressed). Records are found by their name below the archive's top
// folder ("data.pkl", "data/0"), as PyTorch's PyTorchStreamReader finds them.
//
// The archive is hostile until checked: every offset and length is checked
// against the bytes there are, zip64 fields included, before it is used.
// CRCs are not checked, as LibTorch does not check them
// (MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS); a download's SHA-256 is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace resnet_cli {

class ZipArchive {
 public:
  struct Record {
    std::size_t offset = 0;  // of the record's first byte in the archive
    std::size_t size = 0;    // bytes
  };

  // Reads the directory of the archive held in `data` (the whole file,
  // which must outlive this object). Throws Error(kCheckpoint) naming
  // `name`: "not a readable torch.save zip archive (truncated or
  // corrupt?): ..." for a damaged archive, and naming the record for one
  // that is compressed.
  ZipArchive(const std::uint8_t* data, std::size_t size, std::string name);

  // The record `name` below the top folder, or nullptr.
  const Record* find(std::string_view name) const;
  // Whether a record's name (below the top folder) starts with `prefix`.
  bool has_prefix(std::string_view prefix) const;
  // The record's bytes; throws Error(kCheckpoint) when it is missing or
  // larger than `limit` bytes.
  std::string_view read(std::string_view name,
                        std::size_t limit = static_cast<std::size_t>(-1)) const;

 private:
  const std::uint8_t* data_;
  std::string name_;
  std::unordered_map<std::string, Record> records_;
};

}  // namespace resnet_cli
