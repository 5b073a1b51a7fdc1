#include "serve/server.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <future>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "base/error.h"
#include "base/human_units.h"
#include "run/explain.h"
#include "run/image_step.h"
#include "run/predictions.h"
#include "run/record_json.h"
#include "run/session.h"
#include "serve/api.h"
#include "serve/batcher.h"
#include "serve/decode_cost.h"
#include "serve/http_server.h"
#include "serve/memory_budget.h"
#include "serve/metrics.h"
#include "serve/multipart.h"

namespace resnet_cli {

namespace {

using server::HttpRequest;
using server::HttpResponse;

constexpr char kJson[] = "application/json";
// TorchServe's default version of a model archived without one; the only
// version this server has.
constexpr char kModelVersion[] = "1.0";
// What a connection costs at most (http_server.h): its buffer, its
// request's head and the parser.
constexpr std::size_t kConnectionBytes = std::size_t{64} << 10;

// An answer that is not a record: TorchServe's error shape, with the
// record's error kinds as the type.
struct HttpError {
  int status;
  std::string type;
  std::string message;
};

// JSON text of what may hold a client's bytes (a target, a file name, a
// label): invalid UTF-8 is replaced, as record_json does, never thrown.
template <typename Json>
std::string json_text(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

HttpResponse error_response(const HttpError& error) {
  HttpResponse response;
  response.status = error.status;
  const nlohmann::json body = {
      {"code", error.status}, {"type", error.type}, {"message", error.message}};
  response.body = json_text(body);
  response.content_type = kJson;
  if (error.status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

HttpResponse json_response(std::string body) {
  HttpResponse response;
  response.body = std::move(body);
  response.content_type = kJson;
  return response;
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

struct Upload {
  std::string name;        // the multipart file name; "-" for a raw body
  std::string_view bytes;  // inside the request's body
};

// TorchServe takes the image as the raw body or as multipart/form-data
// parts (it reads "data" or "file"; every part is an image here, several
// answer a list), in the order they came. Any other content type is a raw
// body (curl --data-binary labels it application/x-www-form-urlencoded).
std::vector<Upload> read_uploads(const HttpRequest& request) {
  const std::optional<std::string> boundary = server::form_boundary(
      request.header("Content-Type").value_or(std::string_view()));
  if (!boundary) return {{"-", request.body}};
  if (boundary->empty()) {
    throw HttpError{400, "bad_request",
                    "multipart/form-data without a valid boundary"};
  }
  server::FormParse form = server::parse_form(request.body, *boundary);
  if (!form.error.empty()) {
    throw HttpError{400, "bad_request",
                    "malformed multipart body: " + form.error};
  }
  std::vector<Upload> uploads;
  for (server::FormPart& part : form.parts) {
    uploads.push_back({part.filename.empty() ? std::move(part.name)
                                             : std::move(part.filename),
                       part.bytes});
  }
  return uploads;
}

int topk_of(const HttpRequest& request, int fallback) {
  const std::optional<std::string_view> text = request.param("topk");
  if (!text) return fallback;
  // Digits only; more classes than the model has gives them all, so a
  // larger value is as good as 2^20.
  const bool digits = !text->empty() &&
                      std::all_of(text->begin(), text->end(),
                                  [](char c) { return c >= '0' && c <= '9'; });
  int value = 0;
  for (char c : digits ? *text : std::string_view()) {
    value = std::min(value * 10 + (c - '0'), 1 << 20);
  }
  if (value < 1) {
    throw HttpError{400, "usage", "topk: expected a positive integer"};
  }
  return value;
}

bool equal_in_constant_time(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i % (b.size() + 1)]);
  }
  return difference == 0;
}

// "Authorization: Bearer KEY", the scheme in any case (RFC 9110 11.1).
bool authorized(const HttpRequest& request, const std::string& key) {
  const std::string_view value =
      request.header("Authorization").value_or(std::string_view());
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() ||
      !server::equal_ignoring_case(value.substr(0, kScheme.size()), kScheme) ||
      value[kScheme.size()] != ' ') {
    return false;
  }
  std::string_view token = value.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return equal_in_constant_time(token, key);
}

std::string utc_time(std::time_t when) {
  std::tm parts{};
  gmtime_r(&when, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace

struct Server::State final : server::HttpHandler {
  State(const ServedModel& served_in, const ServerOptions& options_in);

  Screened screen(const HttpRequest& request) override;
  HttpResponse handle(const HttpRequest& request) override;
  HttpResponse error(int status, const std::string& message) override;
  void answered(const HttpRequest* request, int status, std::size_t body_bytes,
                double seconds) override;

  HttpResponse route(const HttpRequest& request);
  // The uploads admitted to the queue and classified; throws HttpError 503
  // when the queue has no room for them now (413: never). `explain`: each
  // record also gets its top class's activation map.
  std::vector<Record> admit_and_classify(const std::vector<Upload>& uploads,
                                         OutputType output_type, int topk,
                                         bool explain = false);
  std::vector<Record> classify(const std::vector<Upload>& uploads,
                               OutputType output_type, int topk, bool explain);
  HttpResponse predictions(const HttpRequest& request,
                           const server::RouteMatch& match);
  HttpResponse classify_v1(const HttpRequest& request);
  HttpResponse describe(const server::RouteMatch& match);
  HttpResponse metrics_text();
  std::optional<HttpError> check_model(const server::RouteMatch& match) const;

  const ServedModel served;
  ServerOptions options;
  std::string name;
  std::time_t started = std::time(nullptr);
  server::Metrics metrics;
  const Explainer explainer;  // /v1/classify?explain=1
  server::Batcher batcher;
  server::DecodeGate decoders;
  std::atomic<int> admitted{0};
  // Last: its threads call the handlers, which use everything above.
  server::HttpServer http;
};

namespace {

server::HttpLimits http_limits(const ServerOptions& options) {
  server::HttpLimits limits;
  limits.max_connections = options.max_connections;
  limits.max_client_connections = options.max_client_connections;
  limits.workers = options.http_threads;
  limits.idle_timeout = std::chrono::seconds(options.idle_timeout_s);
  // The headers are part of the request: never longer than all of it.
  limits.header_timeout = std::chrono::seconds(
      std::min(options.header_timeout_s, options.request_timeout_s));
  limits.request_timeout = std::chrono::seconds(options.request_timeout_s);
  limits.max_body = options.max_body;
  limits.body_memory = options.body_memory;
  return limits;
}

server::BatcherOptions batcher_options(const ServedModel& served,
                                       const ServerOptions& options) {
  server::BatcherOptions batching;
  batching.workers = options.plan.workers;
  batching.threads_per_worker = options.plan.threads_per_worker;
  batching.batch_size = options.plan.batch_size;
  batching.max_delay = std::chrono::milliseconds(options.max_batch_delay_ms);
  batching.crop = served.transform.crop_size;
  return batching;
}

ServerOptions with_defaults(ServerOptions options) {
  if (options.body_memory == 0) {
    options.body_memory =
        options.max_body > SIZE_MAX / 4 ? SIZE_MAX : 4 * options.max_body;
  }
  options.body_memory = std::max(options.body_memory, options.max_body);
  return options;
}

}  // namespace

Server::State::State(const ServedModel& served_in,
                     const ServerOptions& options_in)
    : served(served_in),
      options(with_defaults(options_in)),
      name(options_in.model_name.empty() ? served_in.model->architecture()
                                         : options_in.model_name),
      explainer(*served_in.model, served.transform, options.decode,
                served.labels, 1),
      batcher(*served_in.model, batcher_options(served_in, options_in),
              [this](int size) { metrics.batch(size); }),
      decoders(options_in.plan.decode_threads, options.decode_memory),
      http(http_limits(options), *this) {}

std::vector<Record> Server::State::admit_and_classify(
    const std::vector<Upload>& uploads, OutputType output_type, int topk,
    bool explain) {
  const int count = static_cast<int>(uploads.size());
  if (count > options.max_queue) {
    // It would never fit: retrying later cannot help.
    throw HttpError{413, "too_large",
                    std::to_string(count) +
                        " images in one request; this server holds at most " +
                        std::to_string(options.max_queue) +
                        " at once (--max-queue)"};
  }
  const Admission admission(admitted, options.max_queue, count);
  if (!admission.granted()) {
    throw HttpError{503, "busy", "queue full, retry later"};
  }
  return classify(uploads, output_type, topk, explain);
}

// Each upload decoded and preprocessed on this thread (at most
// decode_threads at once, within --decode-memory), then all of them queued
// for the batcher.
std::vector<Record> Server::State::classify(const std::vector<Upload>& uploads,
                                            OutputType output_type, int topk,
                                            bool explain) {
  const TransformSpec& transform = served.transform;
  const std::size_t floats =
      3 * static_cast<std::size_t>(transform.crop_size) * transform.crop_size;
  const bool features = output_type == OutputType::kEmbedding;
  const BatchOutput kind = features  ? BatchOutput::kFeatures
                           : explain ? BatchOutput::kLogitsAndMaps
                                     : BatchOutput::kLogits;
  std::vector<std::pair<int, int>> sizes(uploads.size());  // explain
  std::vector<Record> records(uploads.size());
  std::vector<std::future<std::vector<float>>> outputs(uploads.size());
  for (std::size_t i = 0; i < uploads.size(); ++i) {
    records[i].path = uploads[i].name;
    try {
      const auto* data =
          reinterpret_cast<const std::uint8_t*>(uploads[i].bytes.data());
      const std::size_t size = uploads[i].bytes.size();
      const server::DecodeCost cost =
          server::decode_cost(data, size, options.decode);
      if (cost.bytes > decoders.capacity()) {
        throw Error(ErrorKind::kTooLarge,
                    uploads[i].name + ": " + std::to_string(cost.width) + "x" +
                        std::to_string(cost.height) + " pixels would need " +
                        format_bytes(cost.bytes) +
                        " to decode, more than --decode-memory (" +
                        format_bytes(decoders.capacity()) + ")");
      }
      server::DecodeGate::Ticket ticket = decoders.enter(cost.bytes);
      std::vector<float> input(floats);
      {
        RgbImage decoded;  // explain: its size; dropped before the ticket
        prepare_input(InputBytes{uploads[i].name, data, size}, options.decode,
                      transform, input.data(), nullptr, nullptr,
                      explain ? &decoded : nullptr);
        sizes[i] = {decoded.width, decoded.height};
      }
      ticket.release();
      outputs[i] = batcher.submit(std::move(input), kind);
    } catch (const Error& e) {
      if (!is_input_error(e.kind())) throw;
      records[i].error = RecordError{e.kind(), e.what()};
    }
  }
  for (std::size_t i = 0; i < uploads.size(); ++i) {
    if (!outputs[i].valid()) continue;
    const std::vector<float> output = outputs[i].get();
    fill_record(records[i], output.data(),
                explain ? served.model->num_classes()
                        : static_cast<std::int64_t>(output.size()),
                OutputSpec{output_type, topk, &served.labels});
    if (explain) {
      records[i].explanation =
          explainer.explain(output.data(), sizes[i].first, sizes[i].second);
    }
  }
  return records;
}

// The {model_name} and {model_version} a route names: this server's?
std::optional<HttpError> Server::State::check_model(
    const server::RouteMatch& match) const {
  if (match.parameters.empty()) return std::nullopt;
  if (match.parameters[0] != name) {
    return HttpError{404, "not_found",
                     "no model '" + match.parameters[0] +
                         "' (this server has '" + name + "')"};
  }
  const bool describe = match.endpoint->route == server::Route::kDescribeModel;
  if (match.parameters.size() > 1 && match.parameters[1] != kModelVersion &&
      !(describe && match.parameters[1] == "all")) {
    return HttpError{404, "not_found",
                     "no version '" + match.parameters[1] + "' of model '" +
                         name + "' (it has " + kModelVersion + ")"};
  }
  return std::nullopt;
}

HttpResponse Server::State::predictions(const HttpRequest& request,
                                        const server::RouteMatch&) {
  const int topk = topk_of(request, options.topk);
  const std::vector<Upload> uploads = read_uploads(request);
  const std::vector<Record> records =
      admit_and_classify(uploads, OutputType::kProbability, topk);
  nlohmann::ordered_json answers = nlohmann::ordered_json::array();
  for (const Record& record : records) {
    if (record.error) {
      throw HttpError{status_for(record.error->kind),
                      std::string(error_kind_name(record.error->kind)),
                      record.error->message};
    }
    nlohmann::ordered_json answer = nlohmann::ordered_json::object();
    // A label twice in the top k (ImageNet has two "crane"s) keeps its
    // better score, as a dict built best first would not: first one wins.
    for (const Prediction& prediction : record.predictions) {
      answer.emplace(prediction.label, prediction.score);
    }
    answers.push_back(std::move(answer));
  }
  return json_response(json_text(answers.size() == 1 ? answers[0] : answers));
}

HttpResponse Server::State::classify_v1(const HttpRequest& request) {
  const int topk = topk_of(request, options.topk);
  OutputType output_type = OutputType::kProbability;
  if (const auto text = request.param("output_type")) {
    const auto found = find_enum<OutputType>(std::string(*text));
    if (!found) {
      throw HttpError{400, "usage",
                      "output_type: expected prob, logit or embedding"};
    }
    output_type = *found;
  }
  const std::string_view explain =
      request.param("explain").value_or(std::string_view());
  if (!explain.empty() && explain != "0" && explain != "1") {
    throw HttpError{400, "usage", "explain: expected 0 or 1"};
  }
  if (explain == "1" && output_type == OutputType::kEmbedding) {
    throw HttpError{400, "usage", "explain=1 needs output_type prob or logit"};
  }
  const std::vector<Upload> uploads = read_uploads(request);
  const std::vector<Record> records =
      admit_and_classify(uploads, output_type, topk, explain == "1");
  if (records.size() == 1) {
    // One upload: the record, with its error's status when it failed.
    HttpResponse response = json_response(record_json(records[0]));
    if (records[0].error) response.status = status_for(records[0].error->kind);
    return response;
  }
  std::string body = "[";
  for (std::size_t i = 0; i < records.size(); ++i) {
    body += (i ? "," : "") + record_json(records[i]);
  }
  return json_response(body + "]");
}

// TorchServe's describe model, for the one model and version served.
HttpResponse Server::State::describe(const server::RouteMatch&) {
  const bool cuda = served.model->device().rfind("cuda", 0) == 0;
  nlohmann::ordered_json workers = nlohmann::ordered_json::array();
  for (int i = 0; i < std::max(1, options.plan.workers); ++i) {
    workers.push_back({{"id", std::to_string(9000 + i)},
                       {"startTime", utc_time(started)},
                       {"status", "READY"},
                       {"memoryUsage", 0},
                       {"pid", ::getpid()},
                       {"gpu", cuda},
                       {"gpuUsage", "N/A"}});
  }
  const nlohmann::ordered_json model = {
      {"modelName", name},
      {"modelVersion", kModelVersion},
      {"modelUrl", name},
      {"engine", "Torch"},
      {"runtime", "cpp"},
      {"minWorkers", std::max(1, options.plan.workers)},
      {"maxWorkers", std::max(1, options.plan.workers)},
      {"batchSize", std::max(1, options.plan.batch_size)},
      {"maxBatchDelay", options.max_batch_delay_ms},
      {"loadedAtStartup", true},
      {"workers", workers},
      {"jobQueueStatus",
       {{"remainingCapacity", std::max(0, options.max_queue - admitted.load())},
        {"pendingRequests", batcher.depth()}}}};
  return json_response(json_text(nlohmann::ordered_json::array({model})));
}

HttpResponse Server::State::metrics_text() {
  server::Gauges gauges;
  gauges.queue_depth = batcher.depth();
  gauges.admitted = admitted.load();
  gauges.connections = http.open_connections();
  gauges.body_bytes = http.body_bytes();
  gauges.decode_bytes = decoders.in_use();
  HttpResponse response;
  response.body = metrics.render(gauges);
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return response;
}

// Authentication, the path, the method and the model named, before the
// body is read: a refused request's body stays unread.
server::HttpHandler::Screened Server::State::screen(
    const HttpRequest& request) {
  Screened screened;
  const server::RouteMatch match = server::match_route(request);
  const bool ping =
      match.endpoint && match.endpoint->route == server::Route::kPing;
  if (!options.api_key.empty() && !ping &&
      !authorized(request, options.api_key)) {
    screened.refusal = error_response(
        {401, "unauthorized",
         "missing or wrong API key (Authorization: Bearer KEY)"});
    screened.refusal->headers.emplace_back("WWW-Authenticate", "Bearer");
    return screened;
  }
  if (!match.endpoint) {
    screened.refusal =
        error_response({404, "not_found", "no endpoint " + request.path});
    return screened;
  }
  if (!match.method_allowed) {
    const std::string allowed = server::allowed_methods(*match.endpoint);
    screened.refusal = error_response(
        {405, "method_not_allowed",
         request.method + " " + request.path + ": use " + allowed});
    screened.refusal->headers.emplace_back("Allow", allowed);
    return screened;
  }
  if (const std::optional<HttpError> wrong = check_model(match)) {
    screened.refusal = error_response(*wrong);
    return screened;
  }
  screened.on_worker = match.endpoint->route == server::Route::kPredictions ||
                       match.endpoint->route == server::Route::kClassify;
  return screened;
}

HttpResponse Server::State::route(const HttpRequest& request) {
  const server::RouteMatch match = server::match_route(request);
  switch (match.endpoint->route) {
    case server::Route::kDescription:
      return json_response(server::api_description());
    case server::Route::kPing:
      return json_response(R"({"status": "Healthy"})");
    case server::Route::kListModels:
      return json_response(json_text(nlohmann::json{
          {"models", {{{"modelName", name}, {"modelUrl", name}}}}}));
    case server::Route::kDescribeModel:
      return describe(match);
    case server::Route::kMetrics:
      return metrics_text();
    case server::Route::kPredictions:
      return predictions(request, match);
    case server::Route::kClassify:
      return classify_v1(request);
  }
  return error_response({500, "internal", "no route"});
}

HttpResponse Server::State::handle(const HttpRequest& request) {
  try {
    return route(request);
  } catch (const HttpError& e) {
    return error_response(e);
  } catch (const Error& e) {
    return error_response(
        {500, std::string(error_kind_name(e.kind())), e.what()});
  }
}

// The layer's own refusals get the handlers' JSON body.
HttpResponse Server::State::error(int status, const std::string& message) {
  std::string type = status >= 500 && status != 501 && status != 505
                         ? "internal"
                         : "bad_request";
  if (status == 413 || status == 431) type = "too_large";
  if (status == 408) type = "timeout";
  if (status == 503) type = "busy";
  return error_response({status, type, message});
}

void Server::State::answered(const HttpRequest* request, int status,
                             std::size_t body_bytes, double seconds) {
  metrics.request(status, seconds);
  if (!options.access_log) return;
  char milliseconds[32];
  std::snprintf(milliseconds, sizeof(milliseconds), "%.1f", seconds * 1e3);
  // The bytes of the body read (de-chunked; 0 for one refused unread).
  const std::string in = request ? std::to_string(request->body.size()) : "0";
  options.access_log(
      (request ? request->client : std::string("-")) + " \"" +
      (request ? request->method + " " + request->target : std::string("-")) +
      "\" " + std::to_string(status) + " " + in + " B in, " +
      std::to_string(body_bytes) + " B out, " + milliseconds + " ms");
}

Server::Server(const Session& session, const ServerOptions& options)
    : Server(
          ServedModel{&session.model(), session.transform(), session.labels()},
          options) {}

Server::Server(const ServedModel& served, const ServerOptions& options)
    : state_(std::make_unique<State>(served, options)) {
  state_->http.listen(options.host, options.port);
}

Server::~Server() = default;

int Server::port() const { return state_->http.port(); }

const std::string& Server::model_name() const { return state_->name; }

MemoryBound Server::memory_bound() const {
  const ServerOptions& options = state_->options;
  MemoryBound bound;
  bound.bodies = options.body_memory;
  bound.decodes = options.decode_memory;
  bound.connections =
      static_cast<std::size_t>(options.max_connections) * kConnectionBytes;
  const std::size_t crop =
      static_cast<std::size_t>(state_->served.transform.crop_size);
  const std::size_t output =
      model_output_size(*state_->served.model, BatchOutput::kLogitsAndMaps,
                        static_cast<int>(crop));
  bound.queue = static_cast<std::size_t>(options.max_queue) *
                (3 * crop * crop + output) * sizeof(float);
  return bound;
}

void Server::run() { state_->http.run(); }

void Server::stop() { state_->http.stop(); }

}  // namespace resnet_cli
