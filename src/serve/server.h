// resnet-cli's HTTP server: one loaded model answering TorchServe's inference
// API (GET /ping, POST /predictions/{name}, GET /models), resnet-cli's own
// POST /v1/classify (classify's record) and GET /metrics (Prometheus text).
// Requests are decoded and preprocessed as classify does, on the connection
// threads (at most `decode_threads` at once), and gathered into batches for
// the inference workers (batcher.h), so the answers are classify's.
//
// Everything is bounded: the body (413), the pixels (--max-pixels, 413), the
// time a request may take to arrive, the connections and the images admitted
// at once (beyond either: 503 with Retry-After). Nothing here prints: the
// access log goes to a callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "image/decode.h"
#include "run/pipeline.h"

namespace resnet_cli {

class Session;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;         // 0: any free port (Server::port() says which)
  std::string model_name;  // /predictions/{name}; empty: the architecture's
  std::string api_key;     // empty: none; else "Authorization: Bearer KEY"
  std::size_t max_body = std::size_t{50} << 20;  // bytes
  int max_connections = 1024;
  int max_queue = 64;          // images admitted at once (decoding, queued,
                               // in a forward pass); more: 503
  int request_timeout_s = 30;  // a request's line, headers and body
  int idle_timeout_s = 5;      // waiting for a connection's next request
  int max_batch_delay_ms = 5;
  int http_threads = 32;  // requests served at once
  // workers, threads_per_worker, batch_size, decode_threads (as classify's).
  PipelineOptions plan;
  int topk = 5;  // without ?topk=
  DecodeOptions decode;
  // One line per request (client, method, target, status, bytes, ms); null:
  // none. Called from the connection threads.
  std::function<void(const std::string&)> access_log;
};

class Server {
 public:
  // Binds host:port. Throws Error(kUsage) when it cannot (address in use,
  // no such host).
  Server(const Session& session, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  const std::string& model_name() const;

  // Serves until stop(); then answers what was received, closes the
  // connections and returns.
  void run();
  // From any thread (not from a signal handler).
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace resnet_cli
