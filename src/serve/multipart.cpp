#include "serve/multipart.h"

#include <cctype>

#include "serve/http_message.h"

namespace resnet_cli::server {

namespace {

constexpr std::string_view kCrlf = "\r\n";

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// RFC 9110's token characters.
bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The parameters after a media type or disposition type: `;`-separated
// name=value pairs, values tokens or quoted strings (backslash escapes).
// False when the syntax is broken.
bool parse_parameters(std::string_view text,
                      std::vector<std::pair<std::string, std::string>>* out) {
  std::size_t at = 0;
  for (;;) {
    while (at < text.size() && is_space(text[at])) ++at;
    if (at == text.size()) return true;
    if (text[at] != ';') return false;
    ++at;
    while (at < text.size() && is_space(text[at])) ++at;
    if (at == text.size()) return true;  // a trailing ';'
    const std::size_t name_start = at;
    while (at < text.size() && is_token_char(text[at])) ++at;
    if (at == name_start || at == text.size() || text[at] != '=') return false;
    std::string name(text.substr(name_start, at - name_start));
    ++at;
    std::string value;
    if (at < text.size() && text[at] == '"') {
      ++at;
      for (;; ++at) {
        if (at == text.size()) return false;
        if (text[at] == '"') break;
        if (text[at] == '\\' && at + 1 < text.size()) ++at;
        value += text[at];
      }
      ++at;
    } else {
      const std::size_t value_start = at;
      while (at < text.size() && is_token_char(text[at])) ++at;
      if (at == value_start) return false;
      value = std::string(text.substr(value_start, at - value_start));
    }
    out->emplace_back(std::move(name), std::move(value));
  }
}

const std::string* find_parameter(
    const std::vector<std::pair<std::string, std::string>>& parameters,
    std::string_view name) {
  for (const auto& [key, value] : parameters) {
    if (equal_ignoring_case(key, name)) return &value;
  }
  return nullptr;
}

// A part's header fields, up to the empty line; fills the part's names.
// Returns the error, or an empty string.
std::string read_part_headers(std::string_view headers, FormPart* part) {
  bool disposition = false;
  while (!headers.empty()) {
    const std::size_t end = headers.find(kCrlf);
    const std::string_view line = headers.substr(0, end);
    headers.remove_prefix(end == std::string_view::npos ? headers.size()
                                                        : end + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return "a part's header line has no field name";
    }
    if (!equal_ignoring_case(line.substr(0, colon), "Content-Disposition")) {
      continue;
    }
    const std::string_view value = trim(line.substr(colon + 1));
    std::size_t type_end = 0;
    while (type_end < value.size() && is_token_char(value[type_end])) {
      ++type_end;
    }
    std::vector<std::pair<std::string, std::string>> parameters;
    if (!equal_ignoring_case(value.substr(0, type_end), "form-data") ||
        !parse_parameters(value.substr(type_end), &parameters)) {
      return "a part's Content-Disposition is not form-data";
    }
    const std::string* name = find_parameter(parameters, "name");
    const std::string* filename = find_parameter(parameters, "filename");
    if (!name) return "a part's Content-Disposition has no name";
    part->name = *name;
    part->filename = filename ? *filename : std::string();
    disposition = true;
  }
  return disposition ? "" : "a part has no Content-Disposition";
}

}  // namespace

std::optional<std::string> form_boundary(std::string_view content_type) {
  const std::size_t semicolon = content_type.find(';');
  if (!equal_ignoring_case(trim(content_type.substr(0, semicolon)),
                           "multipart/form-data")) {
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> parameters;
  if (semicolon == std::string_view::npos ||
      !parse_parameters(content_type.substr(semicolon), &parameters)) {
    return std::string();
  }
  const std::string* boundary = find_parameter(parameters, "boundary");
  // RFC 2046: 1 to 70 characters, not ending in a space.
  if (!boundary || boundary->empty() || boundary->size() > 70 ||
      boundary->back() == ' ') {
    return std::string();
  }
  return *boundary;
}

FormParse parse_form(std::string_view body, std::string_view boundary) {
  FormParse result;
  const std::string delimiter = "--" + std::string(boundary);
  const std::string inner = "\r\n" + delimiter;
  // The first delimiter opens the body or ends a preamble's line.
  std::size_t at = 0;
  if (body.substr(0, delimiter.size()) != delimiter) {
    at = body.find(inner);
    if (at == std::string_view::npos) {
      result.error = "no boundary delimiter";
      return result;
    }
    at += 2;
  }
  for (;;) {
    at += delimiter.size();
    if (body.substr(at, 2) == "--") {  // the closing delimiter
      if (result.parts.empty()) result.error = "no parts";
      return result;
    }
    while (at < body.size() && is_space(body[at])) ++at;
    if (body.substr(at, 2) != kCrlf) {
      result.error = "a boundary delimiter's line goes on";
      break;
    }
    at += 2;
    // An empty header block starts with the blank line itself.
    const std::size_t blank =
        body.substr(at, 2) == kCrlf ? at : body.find("\r\n\r\n", at);
    const std::size_t next = body.find(inner, at);
    if (blank == std::string_view::npos || next == std::string_view::npos ||
        blank > next) {
      result.error = "a part is cut short (no closing boundary)";
      break;
    }
    FormPart part;
    result.error = read_part_headers(body.substr(at, blank - at), &part);
    if (!result.error.empty()) break;
    const std::size_t content = blank + (blank == at ? 2 : 4);
    part.bytes = body.substr(content, next - content);
    result.parts.push_back(std::move(part));
    at = next + 2;
  }
  result.parts.clear();
  return result;
}

}  // namespace resnet_cli::server
