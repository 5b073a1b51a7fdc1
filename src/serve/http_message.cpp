#include "serve/http_message.h"

#include <algorithm>

namespace resnet_cli::server {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

std::optional<std::string_view> find(const HeaderList& list,
                                     std::string_view name, bool ignore_case) {
  for (const auto& [key, value] : list) {
    if (ignore_case ? equal_ignoring_case(key, name) : key == name) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

}  // namespace

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return lower(x) == lower(y); });
}

std::optional<std::string_view> HttpRequest::header(
    std::string_view name) const {
  return find(headers, name, true);
}

std::optional<std::string_view> HttpRequest::param(
    std::string_view name) const {
  return find(query, name, false);
}

}  // namespace resnet_cli::server
