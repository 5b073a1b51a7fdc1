// The HTTP/1.1 layer of serve: Boost.Beast's strict parser over Boost.Asio's
// event loop. One thread runs every connection's reads and writes, so that a
// connection still sending its request holds no thread, only its socket and
// a buffer (64 KiB at most); a request whose whole body has arrived is
// answered by the handler, on a pool of worker threads when it asks for one.
//
// What a client can make it do is bounded: deadlines for the wait before a
// request (idle), its line and headers (header), and its whole body
// (request); a cap on connections, in all and per client address; bodies
// of at most max_body on every framing, refused before they are read, and
// held against a shared budget (BodyBudget). Framing follows RFC 9112: a
// request with both Content-Length and Transfer-Encoding, a duplicate or
// invalid length, a transfer coding other than chunked, an HTTP/1.1 request
// without one Host, or bytes that do not parse, are answered 400 (411, 413,
// 417, 431, 501 or 505 where those say more) and the connection closes; so
// does every answer the handler marks so, and every one after stop().
// Expect: 100-continue is answered only once the handler's screen and the
// length have let the request through.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "serve/http_message.h"

namespace resnet_cli::server {

struct HttpLimits {
  int max_connections = 1024;
  int max_client_connections = 256;  // from one peer address
  int workers = 32;                  // handlers running at once
  // Waiting for a request's first byte (the first request, and between
  // keep-alive requests); the connection then closes without an answer.
  std::chrono::milliseconds idle_timeout{5000};
  // From a request's first byte to the end of its headers; then 408.
  std::chrono::milliseconds header_timeout{10000};
  // From a request's first byte to the end of its body; then 408.
  std::chrono::milliseconds request_timeout{30000};
  std::size_t max_body = std::size_t{50} << 20;
  std::size_t body_memory = std::size_t{200} << 20;  // all bodies held
  std::size_t max_header = 16 << 10;                 // request line and fields
};

// The application behind the layer. screen() and handle() run on the event
// loop unless screen() asks for a worker; they must not block there.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;

  struct Screened {
    std::optional<HttpResponse> refusal;  // answered at once, body unread
    bool on_worker = false;               // handle() may block
  };
  // A request whose line and headers arrived and whose framing is sound;
  // its body not read yet (request.body empty).
  virtual Screened screen(const HttpRequest& request) = 0;
  // The answer to a request whose body has arrived.
  virtual HttpResponse handle(const HttpRequest& request) = 0;
  // The answer the layer itself gives (400, 408, 411, 413, 417, 431, 501,
  // 503, 505), for `message`.
  virtual HttpResponse error(int status, const std::string& message) = 0;
  // Once an answer is written (or its connection failed): for the access
  // log and the metrics. `request` is null when no request line parsed;
  // `body_bytes` is the answer's body; `seconds` run from the request's
  // first byte. On the event loop.
  virtual void answered(const HttpRequest* request, int status,
                        std::size_t body_bytes, double seconds) = 0;
};

class HttpServer {
 public:
  HttpServer(const HttpLimits& limits, HttpHandler& handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0: any free one) with SO_REUSEADDR, never
  // SO_REUSEPORT (a second server on a port is refused), and listens with
  // the system's largest backlog. Throws Error(kUsage), naming the address
  // and the reason, when it cannot.
  void listen(const std::string& host, int port);
  int port() const;

  // Serves until stop(); then stops accepting, answers every request that
  // had arrived (Connection: close), closes the rest and returns.
  void run();
  // Any thread, at any time, as often as wanted; before run() too (run()
  // then answers what is waiting and returns).
  void stop();

  int open_connections() const;
  std::size_t body_bytes() const;  // held against body_memory

  struct Impl;  // http_server.cpp's, its connections' too

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace resnet_cli::server
