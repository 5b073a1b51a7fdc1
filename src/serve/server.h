// resnet-cli's HTTP server: one loaded model answering TorchServe's inference
// API (GET /ping, POST /predictions/{name}[/{version}], GET /models[/{name}],
// OPTIONS / for its OpenAPI description), resnet-cli's own POST /v1/classify
// (classify's record) and GET /metrics (Prometheus text). Requests are
// decoded and preprocessed as classify does, on the worker threads (at most
// `decode_threads` at once, within --decode-memory), and gathered into
// batches for the inference workers (batcher.h), so the answers are
// classify's. HTTP itself is http_server.h's.
//
// Everything is bounded: the body (413), the pixels (--max-pixels, 413), the
// time a request may take to arrive, the connections (in all and per
// client), the images admitted at once (beyond: 503 with Retry-After), and
// the memory that bodies and decodes hold (memory_bound()). Nothing here
// prints: the access log goes to a callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "image/decode.h"
#include "image/transform.h"
#include "run/pipeline.h"

namespace resnet_cli {

class Model;
class Session;

// What the server serves: a model, the transforms its inputs go through, and
// its class names (empty: indices). A Session's, or a stand-in's (the fuzz
// target's).
struct ServedModel {
  const Model* model = nullptr;  // outlives the server
  TransformSpec transform;
  std::vector<std::string> labels;
};

// What the server holds beyond the idle process (the model, its forward
// passes), at most, whatever clients send (README: Serving, "Memory").
struct MemoryBound {
  std::size_t bodies = 0;       // --body-memory
  std::size_t decodes = 0;      // --decode-memory
  std::size_t connections = 0;  // 64 KiB a connection, --max-connections
  // The model inputs of --max-queue images, and their outputs at the
  // largest (?explain=1's, with layer4's feature maps).
  std::size_t queue = 0;
  std::size_t total() const { return bodies + decodes + connections + queue; }
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;         // 0: any free port (Server::port() says which)
  std::string model_name;  // /predictions/{name}; empty: the architecture's
  std::string api_key;     // empty: none; else "Authorization: Bearer KEY"
  std::size_t max_body = std::size_t{50} << 20;  // bytes
  int max_connections = 1024;
  int max_client_connections = 256;  // from one address
  int max_queue = 64;          // images admitted at once (decoding, queued,
                               // in a forward pass); more: 503
  int header_timeout_s = 10;   // a request's line and headers
  int request_timeout_s = 30;  // a request's line, headers and body
  int idle_timeout_s = 5;      // waiting for a connection's next request
  int max_batch_delay_ms = 5;
  int http_threads = 32;  // requests handled at once
  // Bytes all request bodies being received or handled hold at once; 0:
  // 4 x max_body; less than max_body: Error(kUsage). More: 503.
  std::size_t body_memory = 0;
  // Bytes all decodes hold at once, each counted from its header
  // (decode_cost.h); an image that alone needs more: 413.
  std::size_t decode_memory = std::size_t{1} << 30;
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
  // no such host), with the reason, or when the options contradict.
  Server(const Session& session, const ServerOptions& options);
  Server(const ServedModel& served, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  const std::string& model_name() const;
  MemoryBound memory_bound() const;

  // Serves until stop(); then answers what was received (Connection: close),
  // closes the connections and returns.
  void run();
  // From any thread (not from a signal handler), before run() too.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace resnet_cli
