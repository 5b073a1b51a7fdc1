#include "serve/http_framing.h"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>
#include <limits>
#include <string_view>
#include <vector>

namespace resnet_cli::server {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<std::string_view> fields(const HttpRequest& request,
                                     std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [key, value] : request.headers) {
    if (equal_ignoring_case(key, name)) values.push_back(value);
  }
  return values;
}

// The comma-separated members of every field line, trimmed, empty ones
// dropped (RFC 9110 5.6.1).
std::vector<std::string_view> list_members(
    const std::vector<std::string_view>& values) {
  std::vector<std::string_view> members;
  for (std::string_view value : values) {
    for (;;) {
      const std::size_t comma = value.find(',');
      const std::string_view member = trim(value.substr(0, comma));
      if (!member.empty()) members.push_back(member);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  return members;
}

// RFC 3986's host and port characters (reg-name, IPv4, [IPv6]).
bool valid_host(std::string_view host) {
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-._~!$&'()*+,;=:[]%").find(c) !=
               std::string_view::npos;
  });
}

Framing refuse(int status, std::string message) {
  Framing framing;
  framing.status = status;
  framing.message = std::move(message);
  return framing;
}

// 1*DIGIT within a signed 64-bit length, as a file offset is.
std::optional<std::uint64_t> parse_length(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value >
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return std::nullopt;
  }
  return value;
}

// Fills path, segments and query; false when the target is none of the
// forms a server accepts.
bool read_target(HttpRequest& request) {
  if (request.target == "*") {
    request.path = "*";
    return request.method == "OPTIONS";
  }
  auto parsed = request.target.front() == '/'
                    ? boost::urls::parse_origin_form(request.target)
                    : boost::urls::parse_absolute_uri(request.target);
  if (!parsed) return false;
  const boost::urls::url_view url = *parsed;
  if (!url.is_path_absolute() && !url.encoded_path().empty()) return false;
  request.path = url.path();
  if (request.path.empty()) request.path = "/";
  for (const auto& segment : url.segments()) {
    request.segments.push_back(segment);
  }
  for (const auto& param : url.params()) {
    request.query.emplace_back(param.key, param.value);
  }
  return true;
}

Framing check_length(const HttpRequest& request) {
  const std::vector<std::string_view> lengths =
      fields(request, "Content-Length");
  const std::vector<std::string_view> codings =
      list_members(fields(request, "Transfer-Encoding"));
  const bool has_coding = !fields(request, "Transfer-Encoding").empty();
  if (!lengths.empty() && has_coding) {
    return refuse(400, "both Content-Length and Transfer-Encoding");
  }
  Framing framing;
  if (lengths.size() > 1) return refuse(400, "more than one Content-Length");
  if (lengths.size() == 1) {
    framing.content_length = parse_length(trim(lengths[0]));
    if (!framing.content_length) {
      return refuse(400, "Content-Length '" + std::string(lengths[0]) +
                             "' is not a length");
    }
  }
  if (has_coding) {
    if (request.version < 11) {
      return refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    const auto chunked = [](std::string_view coding) {
      return equal_ignoring_case(coding, "chunked");
    };
    if (codings.empty() || !chunked(codings.back())) {
      return refuse(400,
                    "Transfer-Encoding without chunked last: the "
                    "body's length cannot be known");
    }
    if (codings.size() > 1) {
      return refuse(501, "transfer codings other than chunked");
    }
    framing.chunked = true;
  }
  if (!framing.content_length && !framing.chunked &&
      (request.method == "POST" || request.method == "PUT")) {
    return refuse(
        411, request.method + " without Content-Length or Transfer-Encoding");
  }
  return framing;
}

}  // namespace

Framing check_framing(HttpRequest& request) {
  if (request.version != 10 && request.version != 11) {
    return refuse(505, "HTTP version not supported (1.0 and 1.1 are)");
  }
  const std::vector<std::string_view> hosts = fields(request, "Host");
  if (hosts.size() > 1) return refuse(400, "more than one Host");
  if (hosts.empty() && request.version == 11) {
    return refuse(400, "no Host in an HTTP/1.1 request");
  }
  if (!hosts.empty() && !valid_host(trim(hosts[0]))) {
    return refuse(400, "Host is not a host name");
  }
  if (request.target.empty() || !read_target(request)) {
    return refuse(400, "request target '" + request.target +
                           "' is not a path or absolute URL");
  }
  Framing framing = check_length(request);
  if (framing.status != 0) return framing;
  const std::vector<std::string_view> expect =
      list_members(fields(request, "Expect"));
  for (std::string_view member : expect) {
    if (!equal_ignoring_case(member, "100-continue")) {
      return refuse(417, "Expect: only 100-continue is understood");
    }
    // RFC 9110 10.1.1: an HTTP/1.0 request's expectation is ignored.
    framing.expect_continue = request.version == 11;
  }
  return framing;
}

bool names_http_version(std::string_view start) {
  const std::size_t end = start.find("\r\n");
  if (end == std::string_view::npos) return false;
  const std::string_view line = start.substr(0, end);
  if (line.find('\n') != std::string_view::npos) return false;
  const std::size_t space = line.rfind(' ');
  if (space == std::string_view::npos || line.find(' ') == space) return false;
  const std::string_view version = line.substr(space + 1);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
         digit(version[5]) && version[6] == '.' && digit(version[7]) &&
         version != "HTTP/1.0" && version != "HTTP/1.1";
}

}  // namespace resnet_cli::server
