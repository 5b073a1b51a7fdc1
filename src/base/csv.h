// RFC 4180 fields: a field with a comma, a quote or a line break is quoted,
// its quotes doubled; any other is written as it is, byte for byte.
#pragma once

#include <string>
#include <string_view>

namespace resnet_cli {

inline std::string csv_field(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(field);
  }
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

}  // namespace resnet_cli
