#include "serve/api.h"

#include <nlohmann/json.hpp>

#ifndef RESNET_CLI_VERSION
#define RESNET_CLI_VERSION "unknown"
#endif

namespace resnet_cli::server {

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segments;
  std::size_t at = 1;  // after the leading '/'
  while (at <= path.size() && path.size() > 1) {
    const std::size_t slash = path.find('/', at);
    segments.push_back(path.substr(at, slash - at));
    if (slash == std::string::npos) break;
    at = slash + 1;
  }
  return segments;
}

bool is_parameter(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

std::vector<std::string> method_list(const Endpoint& endpoint) {
  std::vector<std::string> methods;
  const std::string text = endpoint.methods;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t comma = text.find(", ", at);
    methods.push_back(text.substr(at, comma - at));
    if (comma == std::string::npos) break;
    at = comma + 2;
  }
  return methods;
}

nlohmann::ordered_json error_responses(const Endpoint& endpoint) {
  const nlohmann::ordered_json error = {
      {"content",
       {{"application/json",
         {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
  const bool takes_body = endpoint.route == Route::kPredictions ||
                          endpoint.route == Route::kClassify;
  nlohmann::ordered_json responses = nlohmann::ordered_json::object();
  const auto add = [&](const char* status, const char* what) {
    nlohmann::ordered_json entry = error;
    entry["description"] = what;
    responses[status] = entry;
  };
  if (takes_body) add("400", "the image does not decode, or a bad parameter");
  if (endpoint.route != Route::kPing) add("401", "missing or wrong API key");
  if (endpoint.path != std::string("/")) add("404", "no such model or version");
  if (takes_body) {
    add("413", "body over --max-body, image over --max-pixels");
    add("503", "queue full (--max-queue); retry after Retry-After");
  }
  return responses;
}

nlohmann::ordered_json operation(const Endpoint& endpoint,
                                 const std::string& method) {
  nlohmann::ordered_json op = {{"description", endpoint.summary}};
  nlohmann::ordered_json parameters = nlohmann::ordered_json::array();
  for (const std::string& segment : split_path(endpoint.path)) {
    if (!is_parameter(segment)) continue;
    parameters.push_back({{"in", "path"},
                          {"name", segment.substr(1, segment.size() - 2)},
                          {"required", true},
                          {"schema", {{"type", "string"}}}});
  }
  if (endpoint.route == Route::kPredictions ||
      endpoint.route == Route::kClassify) {
    parameters.push_back({{"in", "query"},
                          {"name", "topk"},
                          {"required", false},
                          {"schema", {{"type", "integer"}, {"minimum", 1}}}});
  }
  if (endpoint.route == Route::kClassify) {
    parameters.push_back(
        {{"in", "query"},
         {"name", "output_type"},
         {"required", false},
         {"schema",
          {{"type", "string"}, {"enum", {"prob", "logit", "embedding"}}}}});
    // 1: the record's "explain", the top class's activation map and box
    // (prob and logit only).
    parameters.push_back({{"in", "query"},
                          {"name", "explain"},
                          {"required", false},
                          {"schema", {{"type", "integer"}, {"enum", {0, 1}}}}});
  }
  op["parameters"] = parameters;
  if (method == "POST" || method == "PUT") {
    op["requestBody"] = {
        {"description",
         "The image as the body, or as multipart/form-data parts"},
        {"required", true},
        {"content",
         {{"*/*", {{"schema", {{"type", "string"}, {"format", "binary"}}}}},
          {"multipart/form-data",
           {{"schema",
             {{"type", "object"},
              {"additionalProperties",
               {{"type", "string"}, {"format", "binary"}}}}}}}}}};
  }
  nlohmann::ordered_json responses = {
      {"200",
       {{"description", "OK"},
        {"content",
         {{endpoint.route == Route::kMetrics ? "text/plain"
                                             : "application/json",
           {{"schema", {{"type", "object"}}}}}}}}}};
  responses.update(error_responses(endpoint));
  op["responses"] = responses;
  return op;
}

}  // namespace

const std::vector<Endpoint>& endpoints() {
  // TorchServe answers predictions to PUT too (curl -T uploads with PUT).
  static const std::vector<Endpoint> table = {
      {Route::kDescription, "/", "OPTIONS",
       "This API's OpenAPI 3.0.1 description"},
      {Route::kPing, "/ping", "GET, HEAD",
       "Health: {\"status\": \"Healthy\"}; needs no API key"},
      {Route::kListModels, "/models", "GET, HEAD",
       "The model served: {\"models\": [{\"modelName\", \"modelUrl\"}]}"},
      {Route::kDescribeModel, "/models/{model_name}", "GET, HEAD",
       "The model's description, as TorchServe's describe model"},
      {Route::kDescribeModel, "/models/{model_name}/{model_version}",
       "GET, HEAD",
       "The model's description for that version (or 'all'); this server "
       "has version 1.0"},
      {Route::kMetrics, "/metrics", "GET, HEAD",
       "Prometheus text: requests, latency, batches, queue, memory"},
      {Route::kPredictions, "/predictions/{model_name}", "POST, PUT",
       "Top classes and probabilities: {\"label\": probability, ...}; "
       "several parts answer a list"},
      {Route::kPredictions, "/predictions/{model_name}/{model_version}",
       "POST, PUT", "The same, naming the model's version (1.0)"},
      {Route::kClassify, "/v1/classify", "POST, PUT",
       "resnet-cli classify's JSON record (?explain=1: with its top class's "
       "activation map and box); several parts answer an array"},
  };
  return table;
}

RouteMatch match_route(const HttpRequest& request) {
  RouteMatch match;
  for (const Endpoint& endpoint : endpoints()) {
    const std::vector<std::string> pattern = split_path(endpoint.path);
    if (pattern.size() != request.segments.size()) continue;
    std::vector<std::string> parameters;
    bool same = true;
    for (std::size_t i = 0; i < pattern.size() && same; ++i) {
      if (is_parameter(pattern[i])) {
        same = !request.segments[i].empty();
        parameters.push_back(request.segments[i]);
      } else {
        same = pattern[i] == request.segments[i];
      }
    }
    if (!same) continue;
    match.endpoint = &endpoint;
    match.parameters = std::move(parameters);
    for (const std::string& method : method_list(endpoint)) {
      match.method_allowed = match.method_allowed || method == request.method;
    }
    return match;
  }
  return match;
}

std::string allowed_methods(const Endpoint& endpoint) {
  return endpoint.methods;
}

std::string api_description() {
  nlohmann::ordered_json paths = nlohmann::ordered_json::object();
  for (const Endpoint& endpoint : endpoints()) {
    for (const std::string& method : method_list(endpoint)) {
      if (method == "HEAD") continue;
      std::string key = method;
      for (char& c : key) c = static_cast<char>(c - 'A' + 'a');
      paths[endpoint.path][key] = operation(endpoint, method);
    }
  }
  const nlohmann::ordered_json error_schema = {
      {"type", "object"},
      {"required", {"code", "type", "message"}},
      {"properties",
       {{"code", {{"type", "integer"}, {"description", "HTTP status"}}},
        {"type",
         {{"type", "string"},
          {"description", "The error's kind (resnet-cli's record kinds)"}}},
        {"message", {{"type", "string"}}}}}};
  const nlohmann::ordered_json document = {
      {"openapi", "3.0.1"},
      {"info",
       {{"title", "resnet-cli serve"},
        {"description",
         "torchvision's ResNets over TorchServe's inference API"},
        {"version", RESNET_CLI_VERSION}}},
      {"paths", paths},
      {"components", {{"schemas", {{"Error", error_schema}}}}}};
  return document.dump(2);
}

}  // namespace resnet_cli::server
