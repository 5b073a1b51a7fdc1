#include "weights/zip_archive.h"

#include <cstring>
#include <limits>

#include "base/error.h"

namespace resnet_cli {

namespace {

constexpr std::uint32_t kEndOfDirectory = 0x06054b50;
constexpr std::uint32_t kZip64EndLocator = 0x07064b50;
constexpr std::uint32_t kZip64End = 0x06064b50;
constexpr std::uint32_t kDirectoryEntry = 0x02014b50;
constexpr std::uint32_t kLocalHeader = 0x04034b50;
constexpr std::size_t kEndOfDirectorySize = 22;
constexpr std::size_t kZip64EndLocatorSize = 20;
constexpr std::size_t kZip64EndSize = 56;
constexpr std::size_t kDirectoryEntrySize = 46;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::uint32_t kMaxed32 = 0xFFFFFFFF;

std::uint16_t le16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) |
         static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 |
         static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t le64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(le32(p)) |
         static_cast<std::uint64_t>(le32(p + 4)) << 32;
}

// Whether [offset, offset + length) lies inside `size` bytes.
bool fits(std::uint64_t offset, std::uint64_t length, std::size_t size) {
  return offset <= size && length <= size - offset;
}

}  // namespace

namespace {

[[noreturn]] void corrupt(const std::string& name, const std::string& why) {
  throw Error(ErrorKind::kCheckpoint,
              name +
                  ": not a readable torch.save zip archive (truncated or "
                  "corrupt?): " +
                  why);
}

// Where the central directory is and how many entries it lists.
struct Directory {
  std::uint64_t entries = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// From the end-of-directory record (the last one whose comment fits the
// file) and, where its fields are saturated, the zip64 record that the
// locator just before it points at.
Directory find_directory(const std::uint8_t* data, std::size_t size,
                         const std::string& name) {
  if (size < kEndOfDirectorySize) corrupt(name, "no end of central directory");
  std::size_t end = size - kEndOfDirectorySize;
  const std::size_t lowest = end > 0xFFFF ? end - 0xFFFF : 0;  // 64 KiB comment
  while (le32(data + end) != kEndOfDirectory ||
         le16(data + end + 20) != size - end - kEndOfDirectorySize) {
    if (end == lowest) corrupt(name, "no end of central directory");
    --end;
  }
  if (le16(data + end + 4) != 0 || le16(data + end + 6) != 0) {
    corrupt(name, "a multi-part archive");
  }
  Directory directory{le16(data + end + 10), le32(data + end + 16),
                      le32(data + end + 12)};
  if (directory.entries == 0xFFFF || directory.size == kMaxed32 ||
      directory.offset == kMaxed32) {
    if (end < kZip64EndLocatorSize ||
        le32(data + end - kZip64EndLocatorSize) != kZip64EndLocator) {
      corrupt(name, "zip64 end locator missing");
    }
    const std::uint64_t zip64_at = le64(data + end - kZip64EndLocatorSize + 8);
    if (!fits(zip64_at, kZip64EndSize, size) ||
        le32(data + zip64_at) != kZip64End) {
      corrupt(name, "zip64 end of central directory missing");
    }
    directory = {le64(data + zip64_at + 32), le64(data + zip64_at + 48),
                 le64(data + zip64_at + 40)};
  }
  if (!fits(directory.offset, directory.size, size)) {
    corrupt(name, "the central directory lies outside the file");
  }
  // Each entry takes at least 46 bytes, which bounds the count by the file.
  if (directory.entries > directory.size / kDirectoryEntrySize) {
    corrupt(name, "the central directory is shorter than its entries");
  }
  return directory;
}

// One central directory entry, its zip64 fields applied.
struct Entry {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint64_t stored_size = 0;
  std::uint64_t plain_size = 0;
  std::uint64_t local_at = 0;
  std::uint64_t length = 0;  // of the entry in the directory
};

Entry read_entry(const std::uint8_t* data, std::uint64_t at,
                 std::uint64_t directory_end, const std::string& name) {
  if (!fits(at, kDirectoryEntrySize, directory_end) ||
      le32(data + at) != kDirectoryEntry) {
    corrupt(name, "a damaged central directory entry");
  }
  const std::uint8_t* entry = data + at;
  Entry out;
  out.flags = le16(entry + 8);
  out.method = le16(entry + 10);
  out.stored_size = le32(entry + 20);
  out.plain_size = le32(entry + 24);
  out.local_at = le32(entry + 42);
  const std::size_t name_length = le16(entry + 28);
  const std::size_t extra_length = le16(entry + 30);
  const std::uint64_t variable = name_length + extra_length + le16(entry + 32);
  if (!fits(at + kDirectoryEntrySize, variable, directory_end)) {
    corrupt(name, "a central directory entry runs past the directory");
  }
  out.length = kDirectoryEntrySize + variable;
  out.name.assign(reinterpret_cast<const char*>(entry) + kDirectoryEntrySize,
                  name_length);
  // zip64 extra field: the saturated sizes and offset, in this order.
  const std::uint8_t* extra = entry + kDirectoryEntrySize + name_length;
  for (std::size_t pos = 0; pos + 4 <= extra_length;) {
    const std::size_t length = le16(extra + pos + 2);
    if (length > extra_length - pos - 4) corrupt(name, "a damaged extra field");
    if (le16(extra + pos) == 0x0001) {
      const std::uint8_t* field = extra + pos + 4;
      std::size_t left = length;
      for (std::uint64_t* value :
           {&out.plain_size, &out.stored_size, &out.local_at}) {
        if (*value != kMaxed32) continue;
        if (left < 8) corrupt(name, "a damaged zip64 extra field");
        *value = le64(field);
        field += 8;
        left -= 8;
      }
    }
    pos += 4 + length;
  }
  return out;
}

}  // namespace

ZipArchive::ZipArchive(const std::uint8_t* data, std::size_t size,
                       std::string name)
    : data_(data), name_(std::move(name)) {
  const Directory directory = find_directory(data, size, name_);
  std::string top;
  std::uint64_t at = directory.offset;
  for (std::uint64_t i = 0; i < directory.entries; ++i) {
    Entry entry =
        read_entry(data, at, directory.offset + directory.size, name_);
    at += entry.length;
    std::string& record = entry.name;
    if (entry.flags & 1) corrupt(name_, "record '" + record + "' is encrypted");
    if (i == 0) top = record.substr(0, record.find('/'));
    if (record.compare(0, top.size() + 1, top + "/") != 0) {
      corrupt(name_, "record '" + record +
                         "' is outside the archive's folder '" + top + "'");
    }
    record.erase(0, top.size() + 1);
    if (!fits(entry.local_at, kLocalHeaderSize, size) ||
        le32(data + entry.local_at) != kLocalHeader) {
      corrupt(name_, "record '" + record + "' has no local header");
    }
    const std::uint64_t data_at = entry.local_at + kLocalHeaderSize +
                                  le16(data + entry.local_at + 26) +
                                  le16(data + entry.local_at + 28);
    if (!fits(data_at, entry.stored_size, size)) {
      corrupt(name_, "record '" + record + "' runs past the end of the file");
    }
    if (entry.method != 0 || entry.stored_size != entry.plain_size) {
      throw Error(ErrorKind::kCheckpoint,
                  name_ + ": record '" + record +
                      "' is compressed (zip method " +
                      std::to_string(entry.method) +
                      "); torch.save stores records uncompressed");
    }
    const Record where{static_cast<std::size_t>(data_at),
                       static_cast<std::size_t>(entry.stored_size)};
    if (!records_.emplace(std::move(record), where).second) {
      corrupt(name_, "a record is listed twice");
    }
  }
}

const ZipArchive::Record* ZipArchive::find(std::string_view name) const {
  auto found = records_.find(std::string(name));
  return found == records_.end() ? nullptr : &found->second;
}

bool ZipArchive::has_prefix(std::string_view prefix) const {
  for (const auto& [record, where] : records_) {
    if (record.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

std::string_view ZipArchive::read(std::string_view name,
                                  std::size_t limit) const {
  const Record* record = find(name);
  if (!record) {
    throw Error(ErrorKind::kCheckpoint,
                name_ + ": archive has no record '" + std::string(name) + "'");
  }
  if (record->size > limit) {
    throw Error(ErrorKind::kCheckpoint,
                name_ + ": record '" + std::string(name) + "' is too large");
  }
  return {reinterpret_cast<const char*>(data_ + record->offset), record->size};
}

}  // namespace resnet_cli
