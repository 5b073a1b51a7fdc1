// multipart/form-data (RFC 7578 over RFC 2046's multipart syntax), read
// from a whole body in memory: each part's form name, file name and bytes,
// in order. The bytes are views into the body, never copies.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resnet_cli::server {

struct FormPart {
  std::string name;        // Content-Disposition's name
  std::string filename;    // its filename; empty when it has none
  std::string_view bytes;  // the part's content, inside the body
};

// The boundary of a "multipart/form-data; boundary=..." media type, or
// nullopt when `content_type` is another type. An empty string: it is
// multipart/form-data but its boundary is missing or invalid.
std::optional<std::string> form_boundary(std::string_view content_type);

struct FormParse {
  std::vector<FormPart> parts;
  std::string error;  // empty when the body parsed; else why not
};

// The parts of `body`, delimited by `boundary`. A body that does not follow
// the syntax (no delimiter, a part without a Content-Disposition of
// form-data, no closing delimiter) gives an error and no parts.
FormParse parse_form(std::string_view body, std::string_view boundary);

}  // namespace resnet_cli::server
