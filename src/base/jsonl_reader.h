// Reading a JSON Lines file back, as --resume and merge do. A last line
// without its newline is torn (the writer was killed while writing it): it is
// not returned, and torn_bytes() says how long it is, so that a caller can
// leave it out (merge) or cut it off before appending (--resume).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace resnet_cli {

struct JsonlLine {
  std::string text;          // without the newline
  std::uint64_t number = 0;  // 1-based, for messages
  std::uint64_t offset = 0;  // of the line's first byte in the file
};

class JsonlReader {
 public:
  explicit JsonlReader(const std::filesystem::path& path)
      : in_(path, std::ios::binary) {}

  // False when the file could not be opened (errno says why).
  bool is_open() const { return in_.is_open(); }

  // The next complete line; false at the end (or at a torn last line).
  bool next(JsonlLine& line) {
    if (!std::getline(in_, line.text)) return false;
    if (in_.eof()) {  // no newline after it
      torn_bytes_ = line.text.size();
      return false;
    }
    line.number = ++count_;
    line.offset = complete_bytes_;
    complete_bytes_ += line.text.size() + 1;
    return true;
  }

  // Bytes of the complete lines read so far.
  std::uint64_t complete_bytes() const { return complete_bytes_; }
  // Length of a torn last line once next() has returned false; 0 if none.
  std::uint64_t torn_bytes() const { return torn_bytes_; }
  // True when reading failed (an I/O error, not the end of the file).
  bool failed() const { return in_.bad(); }

 private:
  std::ifstream in_;
  std::uint64_t count_ = 0;
  std::uint64_t complete_bytes_ = 0;
  std::uint64_t torn_bytes_ = 0;
};

}  // namespace resnet_cli
