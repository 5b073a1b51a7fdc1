// serve's endpoints, in one table: routing (which endpoint a request is
// for, which methods it takes) and the OpenAPI 3.0.1 description that
// OPTIONS / answers, as TorchServe's inference API does, both read from it.
#pragma once

#include <string>
#include <vector>

#include "serve/http_message.h"

namespace resnet_cli::server {

enum class Route {
  kDescription,  // OPTIONS / (and OPTIONS *)
  kPing,
  kListModels,
  kDescribeModel,
  kMetrics,
  kPredictions,
  kClassify,
};

struct Endpoint {
  Route route;
  const char* path;     // OpenAPI's template: "/predictions/{model_name}"
  const char* methods;  // the Allow header's list
  const char* summary;  // OpenAPI's description
};

const std::vector<Endpoint>& endpoints();

struct RouteMatch {
  const Endpoint* endpoint = nullptr;   // null: no endpoint has that path
  std::vector<std::string> parameters;  // the {...} segments, in order
  bool method_allowed = false;          // HEAD is allowed where GET is
};

RouteMatch match_route(const HttpRequest& request);

// The Allow header of an endpoint.
std::string allowed_methods(const Endpoint& endpoint);

// The OpenAPI 3.0.1 document of every endpoint, its errors in TorchServe's
// shape ({"code", "type", "message"}), its version resnet-cli's.
std::string api_description();

}  // namespace resnet_cli::server
