#include "serve/server.h"

#include <httplib.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <regex>

#include "base/error.h"
#include "run/image_step.h"
#include "run/predictions.h"
#include "run/record_json.h"
#include "run/session.h"
#include "serve/batcher.h"
#include "serve/connections.h"
#include "serve/metrics.h"

namespace resnet_cli {

namespace {

using server::Connections;

constexpr char kJson[] = "application/json";

// An answer that is not a record: TorchServe's error shape, with the
// record's error kinds as the type.
struct HttpError {
  int status;
  std::string type;
  std::string message;
};

void send_error(httplib::Response& response, const HttpError& error) {
  response.status = error.status;
  const nlohmann::json body = {
      {"code", error.status}, {"type", error.type}, {"message", error.message}};
  response.set_content(body.dump(), kJson);
  if (error.status == 503) response.set_header("Retry-After", "1");
}

int status_for(ErrorKind kind) {
  return kind == ErrorKind::kTooLarge ? 413 : 400;
}

// Counts admitted images against the limit; gives them back when destroyed.
class Admission {
 public:
  Admission(std::atomic<int>& admitted, int limit, int count)
      : admitted_(admitted), count_(count) {
    if (admitted_.fetch_add(count_) + count_ > limit && count_ > 0) {
      admitted_ -= count_;
      count_ = 0;
      granted_ = false;
    }
  }
  ~Admission() { admitted_ -= count_; }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  bool granted() const { return granted_; }

 private:
  std::atomic<int>& admitted_;
  int count_;
  bool granted_ = true;
};

// At most `count` holders at once.
class Semaphore {
 public:
  explicit Semaphore(int count) : free_(std::max(1, count)) {}
  void acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return free_ > 0; });
    --free_;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++free_;
    }
    changed_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int free_;
};

struct Upload {
  std::string name;  // the multipart file name; "-" for a raw body
  std::string bytes;
};

// TorchServe takes the image as the raw body or as multipart parts (it
// reads "data" or "file"; every part is an image here, several answer a
// list), in the order they came. Read through cpp-httplib's content reader,
// so that a raw body is never parsed as a form (curl --data-binary labels
// it application/x-www-form-urlencoded).
// Empty when the body could not be read (too large: cpp-httplib has set
// 413; cut short or too slow: 400); the connection then closes.
std::optional<std::vector<Upload>> read_uploads(
    const httplib::Request& request, const httplib::ContentReader& reader,
    httplib::Response& response) {
  std::vector<Upload> uploads;
  bool complete;
  if (!request.is_multipart_form_data()) {
    uploads.push_back({"-", {}});
    complete = reader([&](const char* data, std::size_t size) {
      uploads.back().bytes.append(data, size);
      return true;
    });
  } else {
    complete = reader(
        [&](const httplib::MultipartFormData& part) {
          uploads.push_back(
              {part.filename.empty() ? part.name : part.filename, {}});
          return true;
        },
        [&](const char* data, std::size_t size) {
          if (uploads.empty()) return false;
          uploads.back().bytes.append(data, size);
          return true;
        });
  }
  if (!complete) {
    server::Connections::close_after_response(response);
    return std::nullopt;
  }
  return uploads;
}

std::optional<int> topk_of(const httplib::Request& request, int fallback) {
  if (!request.has_param("topk")) return fallback;
  const std::string text = request.get_param_value("topk");
  try {
    std::size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size() && value >= 1) return value;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

struct Server::State {
  State(const Session& session_in, const ServerOptions& options_in);

  // The uploads admitted to the queue and classified; empty, with 503
  // answered, when the queue has no room for them now (413: never).
  std::optional<std::vector<Record>> admit_and_classify(
      const std::vector<Upload>& uploads, OutputType output_type, int topk,
      httplib::Response& response);
  std::vector<Record> classify(const std::vector<Upload>& uploads,
                               OutputType output_type, int topk);
  void predictions(const httplib::Request& request, httplib::Response& response,
                   const httplib::ContentReader& reader);
  void classify_v1(const httplib::Request& request, httplib::Response& response,
                   const httplib::ContentReader& reader);
  httplib::Server::HandlerResponse screen(const httplib::Request& request,
                                          httplib::Response& response);
  void route();
  void log(const httplib::Request& request, const httplib::Response& response);

  const Session& session;
  ServerOptions options;
  std::string name;
  int bound_port = 0;
  server::Metrics metrics;
  server::Batcher batcher;
  Semaphore decoders;
  std::atomic<int> admitted{0};
  // Last: its threads call the handlers, which use everything above.
  Connections http;
};

Server::State::State(const Session& session_in, const ServerOptions& options_in)
    : session(session_in),
      options(options_in),
      name(options_in.model_name.empty() ? session_in.model().architecture()
                                         : options_in.model_name),
      batcher(
          session_in.model(),
          [&] {
            server::BatcherOptions batching;
            batching.workers = options_in.plan.workers;
            batching.threads_per_worker = options_in.plan.threads_per_worker;
            batching.batch_size = options_in.plan.batch_size;
            batching.max_delay =
                std::chrono::milliseconds(options_in.max_batch_delay_ms);
            batching.crop = session_in.transform().crop_size;
            return batching;
          }(),
          [this](int size) { metrics.batch(size); }),
      decoders(options_in.plan.decode_threads),
      http([&] {
        server::ConnectionLimits limits;
        limits.max_connections = options_in.max_connections;
        limits.threads = options_in.http_threads;
        limits.request_timeout =
            std::chrono::seconds(options_in.request_timeout_s);
        limits.idle_timeout = std::chrono::seconds(options_in.idle_timeout_s);
        return limits;
      }()) {}

std::optional<std::vector<Record>> Server::State::admit_and_classify(
    const std::vector<Upload>& uploads, OutputType output_type, int topk,
    httplib::Response& response) {
  const int count = static_cast<int>(uploads.size());
  if (count > options.max_queue) {
    // It would never fit: retrying later cannot help.
    send_error(
        response,
        {413, "too_large",
         std::to_string(count) +
             " images in one request; this server holds at most " +
             std::to_string(options.max_queue) + " at once (--max-queue)"});
    return std::nullopt;
  }
  const Admission admission(admitted, options.max_queue, count);
  if (!admission.granted()) {
    send_error(response, {503, "busy", "queue full, retry later"});
    return std::nullopt;
  }
  return classify(uploads, output_type, topk);
}

// Each upload decoded and preprocessed on this thread (at most
// decode_threads at once), then all of them queued for the batcher.
std::vector<Record> Server::State::classify(const std::vector<Upload>& uploads,
                                            OutputType output_type, int topk) {
  const TransformSpec& transform = session.transform();
  const std::size_t floats =
      3 * static_cast<std::size_t>(transform.crop_size) * transform.crop_size;
  const bool features = output_type == OutputType::kEmbedding;
  std::vector<Record> records(uploads.size());
  std::vector<std::future<std::vector<float>>> outputs(uploads.size());
  for (std::size_t i = 0; i < uploads.size(); ++i) {
    records[i].path = uploads[i].name;
    decoders.acquire();
    try {
      const std::string& bytes = uploads[i].bytes;
      std::vector<float> input(floats);
      prepare_input(
          InputBytes{uploads[i].name,
                     reinterpret_cast<const std::uint8_t*>(bytes.data()),
                     bytes.size()},
          options.decode, transform, input.data());
      decoders.release();
      outputs[i] = batcher.submit(std::move(input), features);
    } catch (const Error& e) {
      decoders.release();
      if (!is_input_error(e.kind())) throw;
      records[i].error = RecordError{e.kind(), e.what()};
    }
  }
  for (std::size_t i = 0; i < uploads.size(); ++i) {
    if (!outputs[i].valid()) continue;
    const std::vector<float> output = outputs[i].get();
    fill_record(records[i], output.data(),
                static_cast<std::int64_t>(output.size()),
                OutputSpec{output_type, topk, &session.labels()});
  }
  return records;
}

void Server::State::predictions(const httplib::Request& request,
                                httplib::Response& response,
                                const httplib::ContentReader& reader) {
  // Read first, whatever the answer: an unread body would be taken for the
  // connection's next request.
  const std::optional<std::vector<Upload>> received =
      read_uploads(request, reader, response);
  if (!received) return;
  const std::vector<Upload>& uploads = *received;
  if (request.matches[1] != name) {
    send_error(response, {404, "not_found",
                          "no model '" + std::string(request.matches[1]) +
                              "' (this server has '" + name + "')"});
    return;
  }
  const std::optional<int> topk = topk_of(request, options.topk);
  if (!topk) {
    send_error(response, {400, "usage", "topk: expected a positive integer"});
    return;
  }
  const std::optional<std::vector<Record>> records =
      admit_and_classify(uploads, OutputType::kProbability, *topk, response);
  if (!records) return;
  nlohmann::ordered_json answers = nlohmann::ordered_json::array();
  for (const Record& record : *records) {
    if (record.error) {
      send_error(response, {status_for(record.error->kind),
                            std::string(error_kind_name(record.error->kind)),
                            record.error->message});
      return;
    }
    nlohmann::ordered_json answer = nlohmann::ordered_json::object();
    // A label twice in the top k (ImageNet has two "crane"s) keeps its
    // better score, as a dict built best first would not: first one wins.
    for (const Prediction& prediction : record.predictions) {
      answer.emplace(prediction.label, prediction.score);
    }
    answers.push_back(std::move(answer));
  }
  const nlohmann::ordered_json body =
      answers.size() == 1 ? answers[0] : answers;
  response.set_content(body.dump(), kJson);
}

void Server::State::classify_v1(const httplib::Request& request,
                                httplib::Response& response,
                                const httplib::ContentReader& reader) {
  const std::optional<std::vector<Upload>> received =
      read_uploads(request, reader, response);
  if (!received) return;
  const std::vector<Upload>& uploads = *received;
  const std::optional<int> topk = topk_of(request, options.topk);
  if (!topk) {
    send_error(response, {400, "usage", "topk: expected a positive integer"});
    return;
  }
  OutputType output_type = OutputType::kProbability;
  if (request.has_param("output_type")) {
    const auto found =
        find_enum<OutputType>(request.get_param_value("output_type"));
    if (!found) {
      send_error(response, {400, "usage",
                            "output_type: expected prob, logit or embedding"});
      return;
    }
    output_type = *found;
  }
  const std::optional<std::vector<Record>> found =
      admit_and_classify(uploads, output_type, *topk, response);
  if (!found) return;
  const std::vector<Record>& records = *found;
  if (records.size() == 1) {
    // One upload: the record, with its error's status when it failed.
    if (records[0].error) response.status = status_for(records[0].error->kind);
    response.set_content(record_json(records[0]), kJson);
    return;
  }
  std::string body = "[";
  for (std::size_t i = 0; i < records.size(); ++i) {
    body += (i ? "," : "") + record_json(records[i]);
  }
  response.set_content(body + "]", kJson);
}

namespace {

struct Endpoint {
  const char* pattern;  // a regular expression over the path
  const char* methods;  // the Allow header
};
// TorchServe answers predictions to PUT too (curl -T uploads with PUT).
constexpr Endpoint kEndpoints[] = {
    {"/ping", "GET"},
    {"/models", "GET"},
    {"/metrics", "GET"},
    {"/predictions/([^/]+)", "POST, PUT"},
    {"/v1/classify", "POST, PUT"},
};

bool equal_in_constant_time(const std::string& a, const std::string& b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i % (b.size() + 1)]);
  }
  return difference == 0;
}

// cpp-httplib's own refusals (unknown path, malformed request, body over
// the limit) get a JSON body as the handlers' errors do.
HttpError library_error(const httplib::Request& request, int status,
                        std::size_t max_body) {
  switch (status) {
    case 404:
      return {404, "not_found", "no endpoint " + request.path};
    case 413:
      return {413, "too_large",
              "body larger than --max-body (" + std::to_string(max_body) +
                  " bytes)"};
    case 414:
      return {414, "too_large", "request line too long"};
    case 503:
      return {503, "busy", "retry later"};
    default:
      return {status, status >= 500 ? "internal" : "bad_request",
              status == 400 ? "malformed or incomplete request"
                            : "HTTP status " + std::to_string(status)};
  }
}

}  // namespace

// Authentication and methods, before the body is read: a refused request's
// body stays unread and its connection closes after the answer.
httplib::Server::HandlerResponse Server::State::screen(
    const httplib::Request& request, httplib::Response& response) {
  const auto refuse = [&](const HttpError& error) {
    send_error(response, error);
    if (request.has_header("Content-Length") ||
        request.has_header("Transfer-Encoding")) {
      Connections::close_after_response(response);
    }
    return httplib::Server::HandlerResponse::Handled;
  };
  if (!options.api_key.empty() && request.path != "/ping" &&
      !equal_in_constant_time(request.get_header_value("Authorization"),
                              "Bearer " + options.api_key)) {
    response.set_header("WWW-Authenticate", "Bearer");
    return refuse({401, "unauthorized",
                   "missing or wrong API key (Authorization: Bearer KEY)"});
  }
  static const std::vector<std::regex> patterns = [] {
    std::vector<std::regex> compiled;
    for (const Endpoint& endpoint : kEndpoints) {
      compiled.emplace_back(endpoint.pattern);
    }
    return compiled;
  }();
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (!std::regex_match(request.path, patterns[i])) continue;
    const std::string allowed = kEndpoints[i].methods;
    if (allowed.find(request.method) == std::string::npos ||
        request.method.empty()) {
      response.set_header("Allow", allowed);
      return refuse({405, "method_not_allowed",
                     request.method + " " + request.path + ": use " + allowed});
    }
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

void Server::State::log(const httplib::Request& request,
                        const httplib::Response& response) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                    Connections::request_start())
          .count();
  metrics.request(response.status, seconds);
  if (!options.access_log) return;
  char milliseconds[32];
  std::snprintf(milliseconds, sizeof(milliseconds), "%.1f", seconds * 1e3);
  options.access_log(request.remote_addr + " \"" + request.method + " " +
                     request.target + "\" " + std::to_string(response.status) +
                     " " + request.get_header_value("Content-Length", 0) +
                     " B in, " + std::to_string(response.body.size()) +
                     " B out, " + milliseconds + " ms");
}

void Server::State::route() {
  http.set_payload_max_length(options.max_body);
  http.set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        return screen(request, response);
      });
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& request, httplib::Response& response) {
        if (!response.body.empty()) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        send_error(response,
                   library_error(request, response.status, options.max_body));
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler([](const httplib::Request&,
                                httplib::Response& response,
                                std::exception_ptr error) {
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      send_error(response,
                 {500, std::string(error_kind_name(e.kind())), e.what()});
    } catch (const std::exception& e) {
      send_error(response, {500, "internal", e.what()});
    }
  });
  http.set_logger(
      [this](const httplib::Request& request,
             const httplib::Response& response) { log(request, response); });
  http.Get("/ping", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(R"({"status": "Healthy"})", kJson);
  });
  http.Get("/models",
           [this](const httplib::Request&, httplib::Response& response) {
             const nlohmann::json body = {
                 {"models", {{{"modelName", name}, {"modelUrl", name}}}}};
             response.set_content(body.dump(), kJson);
           });
  http.Get("/metrics",
           [this](const httplib::Request&, httplib::Response& response) {
             server::Gauges gauges;
             gauges.queue_depth = batcher.depth();
             gauges.admitted = admitted.load();
             gauges.connections = http.open_connections();
             response.set_content(metrics.render(gauges),
                                  "text/plain; version=0.0.4; charset=utf-8");
           });
  const httplib::Server::HandlerWithContentReader predict =
      [this](const httplib::Request& request, httplib::Response& response,
             const httplib::ContentReader& reader) {
        predictions(request, response, reader);
      };
  const httplib::Server::HandlerWithContentReader classify_handler =
      [this](const httplib::Request& request, httplib::Response& response,
             const httplib::ContentReader& reader) {
        classify_v1(request, response, reader);
      };
  http.Post("/predictions/([^/]+)", predict);
  http.Put("/predictions/([^/]+)", predict);
  http.Post("/v1/classify", classify_handler);
  http.Put("/v1/classify", classify_handler);
}

Server::Server(const Session& session, const ServerOptions& options)
    : state_(std::make_unique<State>(session, options)) {
  state_->route();
  const std::string where = options.host + ":" + std::to_string(options.port);
  if (options.port == 0) {
    state_->bound_port = state_->http.bind_to_any_port(options.host);
  } else if (state_->http.bind_to_port(options.host, options.port)) {
    state_->bound_port = options.port;
  } else {
    state_->bound_port = -1;
  }
  if (state_->bound_port <= 0) {
    throw Error(ErrorKind::kUsage,
                where +
                    ": cannot listen there (address in use, or not one "
                    "of this machine's)");
  }
}

Server::~Server() { state_->http.shut_down(); }

int Server::port() const { return state_->bound_port; }

const std::string& Server::model_name() const { return state_->name; }

void Server::run() {
  state_->http.listen_after_bind();
  state_->http.shut_down();
}

void Server::stop() { state_->http.begin_shutdown(); }

}  // namespace resnet_cli
