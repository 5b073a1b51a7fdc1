// A whole regular file mapped read-only into memory, for readers that take
// what they need from large files (checkpoints) without copying them first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "base/error.h"

namespace resnet_cli {

class MappedFile {
 public:
  // Maps `path` privately and read-only. Throws Error(`kind`) naming the
  // file when it cannot be opened, is not a regular file, is empty or cannot
  // be mapped.
  MappedFile(const std::filesystem::path& path, ErrorKind kind);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }  // bytes, never 0

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace resnet_cli
