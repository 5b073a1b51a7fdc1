// A request and its answer as the HTTP layer (http_server.h) hands them to
// the server's routes, free of the parser's types.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace resnet_cli::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;                 // as sent ("GET", "POST", ...)
  std::string target;                 // as sent
  std::string path;                   // the target's path, percent-decoded
  std::vector<std::string> segments;  // the path's segments, each decoded
  HeaderList query;       // its query's pairs, percent-decoded, in order
  int version = 11;       // 10: HTTP/1.0, 11: HTTP/1.1
  HeaderList headers;     // as sent, in order
  bool has_body = false;  // a Content-Length above 0, or chunked
  std::string body;       // the whole body, de-chunked (empty in screen())
  std::string client;     // the peer's IP address

  // The first header of that name (any case), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  // The first query parameter of that name, or nullopt.
  std::optional<std::string_view> param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  HeaderList headers;  // besides Content-Type, Content-Length, Connection
  bool close = false;  // close the connection after it (Connection: close)
};

// Whether two header names or tokens are equal, ignoring ASCII case.
bool equal_ignoring_case(std::string_view a, std::string_view b);

}  // namespace resnet_cli::server
