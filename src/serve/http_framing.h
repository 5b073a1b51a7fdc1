// RFC 9112's rules for a request's head, checked after Beast has parsed it
// and before any of its body is read: what Beast lets through that a strict
// server refuses, and what the body's framing is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "serve/http_message.h"

namespace resnet_cli::server {

struct Framing {
  int status = 0;  // 0: sound; else the answer, after which the connection
                   // closes (400, 411, 417, 501, 505)
  std::string message;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool expect_continue = false;  // Expect: 100-continue on HTTP/1.1
};

// Checks the version, Host (exactly one on HTTP/1.1, RFC 9112 3.2),
// Content-Length (one field of digits that fits a signed 64-bit length),
// Transfer-Encoding (chunked, last and alone; with Content-Length it is
// refused, RFC 9112 6.1), Expect and the request target, and fills
// request.path and request.query from the target (origin-form, absolute-form,
// or "*" for OPTIONS).
Framing check_framing(HttpRequest& request);

// Whether `start` (the bytes a request begins with) opens with a request
// line that names a version HTTP/DIGIT.DIGIT other than 1.0 and 1.1: the
// parser's refusal is then 505, not 400.
bool names_http_version(std::string_view start);

}  // namespace resnet_cli::server
