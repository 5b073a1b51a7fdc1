// A JSON array streamed element by element, laid out as classify --format
// json writes it: "[\n" first ",\n" second ... "\n]\n", or "[]\n" when empty.
// Memory stays flat however many elements there are.
#pragma once

#include <cstddef>
#include <ostream>
#include <string_view>

namespace resnet_cli {

class JsonArrayStream {
 public:
  explicit JsonArrayStream(std::ostream& out) : out_(out) {}

  // `json` is one complete JSON value, without a newline.
  void element(std::string_view json) {
    out_ << (count_++ == 0 ? "[\n" : ",\n") << json;
  }
  // Closes the array; no element may follow.
  void close() { out_ << (count_ == 0 ? "[]\n" : "\n]\n"); }

  std::size_t count() const { return count_; }

 private:
  std::ostream& out_;
  std::size_t count_ = 0;
};

}  // namespace resnet_cli
