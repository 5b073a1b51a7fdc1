// Small text helpers shared by the library's modules. Internal.
#pragma once

#include <string>
#include <string_view>

namespace resnet_cli::detail {

// ASCII case mapping, for names given on the command line; other bytes are
// left as they are.
inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

inline std::string ascii_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Whether `a` and `b` are equal but for ASCII case.
inline bool equals_ignoring_ascii_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ascii_lower(a) == ascii_lower(b);
}

// The first line of a library's error text, trailing blanks removed, for a
// one-line message of ours.
inline std::string first_line(std::string_view text) {
  std::string line(text.substr(0, text.find('\n')));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
    line.pop_back();
  }
  return line;
}

}  // namespace resnet_cli::detail
