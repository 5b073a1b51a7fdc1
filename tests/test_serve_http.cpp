// serve's pieces below HTTP's wire, each against exact expected values:
// the request-head rules of RFC 9112 (http_framing.h), multipart/form-data
// (multipart.h), the endpoint table (api.h), the memory budgets
// (memory_budget.h) and what an image's decode is charged (decode_cost.h).
// The whole server against real clients is tests/serve/.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "serve/api.h"
#include "serve/decode_cost.h"
#include "serve/http_framing.h"
#include "serve/memory_budget.h"
#include "serve/multipart.h"

namespace {

using namespace resnet_cli::server;

HttpRequest head(std::string method, std::string target, HeaderList headers,
                 int version = 11) {
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.headers = std::move(headers);
  request.version = version;
  return request;
}

int status_of(HttpRequest request) { return check_framing(request).status; }

}  // namespace

TEST_CASE("framing: sound requests and what they carry", "[serve]") {
  HttpRequest get = head("GET", "/predictions/resnet%2050/1.0?topk=3&a=%20b",
                         {{"Host", "localhost:8080"}});
  const Framing framing = check_framing(get);
  CHECK(framing.status == 0);
  CHECK(get.path == "/predictions/resnet 50/1.0");
  CHECK(get.segments ==
        std::vector<std::string>{"predictions", "resnet 50", "1.0"});
  REQUIRE(get.query.size() == 2);
  CHECK(get.query[0] == std::pair<std::string, std::string>{"topk", "3"});
  CHECK(get.query[1] == std::pair<std::string, std::string>{"a", " b"});
  CHECK_FALSE(framing.content_length);
  CHECK_FALSE(framing.chunked);

  HttpRequest post = head("POST", "http://example.com/v1/classify",
                          {{"Host", "example.com"},
                           {"content-length", "0012"},
                           {"Expect", "100-Continue"}});
  const Framing posted = check_framing(post);
  CHECK(posted.status == 0);
  CHECK(post.path == "/v1/classify");
  CHECK(posted.content_length == 12u);
  CHECK(posted.expect_continue);

  HttpRequest chunked = head("PUT", "/v1/classify",
                             {{"Host", "h"}, {"Transfer-Encoding", "Chunked"}});
  const Framing chunks = check_framing(chunked);
  CHECK(chunks.status == 0);
  CHECK(chunks.chunked);

  // HTTP/1.0 needs no Host, and its 100-continue is ignored (RFC 9110).
  HttpRequest old =
      head("POST", "/v1/classify",
           {{"Content-Length", "3"}, {"Expect", "100-continue"}}, 10);
  const Framing old_framing = check_framing(old);
  CHECK(old_framing.status == 0);
  CHECK_FALSE(old_framing.expect_continue);

  HttpRequest star = head("OPTIONS", "*", {{"Host", "h"}});
  CHECK(status_of(star) == 0);
  CHECK(head("GET", "/", {{"Host", "h"}}).segments.empty());
}

TEST_CASE("framing: what RFC 9112 refuses, with the status", "[serve]") {
  const HeaderList host = {{"Host", "h"}};
  const auto with = [&](HeaderList extra) {
    HeaderList all = host;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  CHECK(status_of(head("GET", "/ping", {})) == 400);  // no Host on 1.1
  CHECK(status_of(head("GET", "/ping", {{"Host", "a"}, {"Host", "b"}})) == 400);
  CHECK(status_of(head("GET", "/ping", {{"Host", "a b"}})) == 400);
  CHECK(status_of(head("GET", "/ping", host, 20)) == 505);
  // Both lengths, duplicate or invalid ones.
  CHECK(status_of(head("POST", "/v1/classify",
                       with({{"Content-Length", "5"},
                             {"Transfer-Encoding", "chunked"}}))) == 400);
  CHECK(status_of(head(
            "POST", "/v1/classify",
            with({{"Content-Length", "5"}, {"Content-Length", "6"}}))) == 400);
  CHECK(status_of(head(
            "POST", "/v1/classify",
            with({{"Content-Length", "5"}, {"Content-Length", "5"}}))) == 400);
  for (const char* length :
       {"-1", "5, 5", "", "0x10", "+5", "99999999999999999999",
        "10000000000000000000", "9223372036854775808"}) {
    INFO(length);
    CHECK(status_of(head("POST", "/v1/classify",
                         with({{"Content-Length", length}}))) == 400);
  }
  CHECK(status_of(head("POST", "/v1/classify",
                       with({{"Content-Length", "9223372036854775807"}}))) ==
        0);
  // Codings: chunked last and alone.
  CHECK(status_of(head("POST", "/v1/classify",
                       with({{"Transfer-Encoding", "gzip"}}))) == 400);
  CHECK(status_of(head("POST", "/v1/classify",
                       with({{"Transfer-Encoding", "chunked, gzip"}}))) == 400);
  CHECK(status_of(head("POST", "/v1/classify",
                       with({{"Transfer-Encoding", "gzip, chunked"}}))) == 501);
  CHECK(status_of(head("POST", "/v1/classify",
                       {{"Transfer-Encoding", "chunked"}}, 10)) == 400);
  // A body-carrying method without a length.
  CHECK(status_of(head("POST", "/v1/classify", host)) == 411);
  CHECK(status_of(head("PUT", "/v1/classify", host)) == 411);
  CHECK(status_of(head("GET", "/ping", host)) == 0);
  CHECK(status_of(head("GET", "/ping", with({{"Expect", "gzip"}}))) == 417);
  // Targets.
  CHECK(status_of(head("GET", "*", host)) == 400);
  CHECK(status_of(head("GET", "ping", host)) == 400);
  CHECK(status_of(head("GET", "/a b", host)) == 400);
  CHECK(status_of(head("GET", "/%zz", host)) == 400);
  CHECK(names_http_version("GET / HTTP/2.0\r\nHost: x\r\n"));
  CHECK(names_http_version("PRI * HTTP/2.0\r\n"));
  CHECK_FALSE(names_http_version("GET / HTTP/1.x\r\n"));
  CHECK_FALSE(names_http_version("GET HTTP/2.0\r\n"));
  CHECK_FALSE(names_http_version("GET / HTTP/2.0"));  // line not ended
  CHECK_FALSE(names_http_version("GET / HTTP/1.1\r\n"));
  CHECK_FALSE(
      names_http_version("GET / HTTP/1.1\nHost: x\n\nGET / HTTP/2.0\r\n"));
}

TEST_CASE("multipart: parts in order, names, views into the body", "[serve]") {
  const std::string body =
      "preamble\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"data\"; filename=\"a "
      "\\\"b\\\".jpg\""
      "\r\nContent-Type: image/jpeg\r\n\r\n"
      "\x89\r\n--XyX, not it\r\n"
      "--XyZ  \r\n"
      "content-disposition: FORM-DATA; name=file\r\n\r\n"
      "\r\n--XyZ--\r\nepilogue";
  const std::optional<std::string> boundary =
      form_boundary("Multipart/Form-Data; charset=utf-8; boundary=\"XyZ\"");
  REQUIRE(boundary == std::string("XyZ"));
  const FormParse form = parse_form(body, *boundary);
  REQUIRE(form.error.empty());
  REQUIRE(form.parts.size() == 2);
  CHECK(form.parts[0].name == "data");
  CHECK(form.parts[0].filename == "a \"b\".jpg");
  CHECK(form.parts[0].bytes == std::string_view("\x89\r\n--XyX, not it"));
  CHECK(form.parts[0].bytes.data() >= body.data());
  CHECK(form.parts[1].name == "file");
  CHECK(form.parts[1].filename.empty());
  CHECK(form.parts[1].bytes.empty());

  CHECK_FALSE(form_boundary("application/octet-stream"));
  CHECK(form_boundary("multipart/form-data") == std::string());
  CHECK(form_boundary("multipart/form-data; boundary=") == std::string());
  for (const char* broken :
       {"no delimiter at all",
        "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nnever closed",
        "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--XyZ--",
        "--XyZ\r\nContent-Type: a/b\r\n\r\nx\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
        "--XyZ--", "--XyZ junk\r\n"}) {
    INFO(broken);
    const FormParse bad = parse_form(broken, "XyZ");
    CHECK_FALSE(bad.error.empty());
    CHECK(bad.parts.empty());
  }
}

TEST_CASE("routes: endpoints, methods, parameters", "[serve]") {
  const auto match = [](std::string method, std::string target) {
    HttpRequest request = head(std::move(method), std::move(target),
                               {{"Host", "h"}, {"Content-Length", "1"}});
    REQUIRE(check_framing(request).status == 0);
    return match_route(request);
  };
  RouteMatch versioned = match("POST", "/predictions/resnet50/1.0");
  REQUIRE(versioned.endpoint);
  CHECK(versioned.endpoint->route == Route::kPredictions);
  CHECK(versioned.parameters == std::vector<std::string>{"resnet50", "1.0"});
  CHECK(versioned.method_allowed);
  CHECK_FALSE(match("GET", "/predictions/resnet50").method_allowed);
  CHECK(match("HEAD", "/ping").method_allowed);
  CHECK(match("OPTIONS", "/").endpoint->route == Route::kDescription);
  CHECK(match("GET", "/models/resnet50/all").endpoint->route ==
        Route::kDescribeModel);
  CHECK_FALSE(match("GET", "/ping/").endpoint);
  CHECK_FALSE(match("GET", "/predictions").endpoint);
  CHECK_FALSE(match("POST", "/predictions/a/b/c").endpoint);

  // OPTIONS / describes every endpoint of the table, once each.
  const nlohmann::json description = nlohmann::json::parse(api_description());
  CHECK(description["openapi"] == "3.0.1");
  for (const Endpoint& endpoint : endpoints()) {
    INFO(endpoint.path);
    CHECK(description["paths"].contains(endpoint.path));
  }
  CHECK(description["paths"]["/predictions/{model_name}/{model_version}"]
                   ["post"]["parameters"][1]["name"] == "model_version");
  // /v1/classify's query: topk, output_type, explain (0 or 1).
  const nlohmann::json& classify =
      description["paths"]["/v1/classify"]["post"]["parameters"];
  REQUIRE(classify.size() == 3);
  CHECK(classify[2]["name"] == "explain");
  CHECK(classify[2]["schema"]["enum"] == nlohmann::json::array({0, 1}));
}

TEST_CASE("body budget: leases grow within the capacity, give back",
          "[serve]") {
  BodyBudget budget(100);
  BodyBudget::Lease a = budget.lease();
  CHECK(a.grow_to(60));
  CHECK(a.grow_to(40));  // never shrinks
  CHECK(a.bytes() == 60);
  BodyBudget::Lease b = budget.lease();
  CHECK_FALSE(b.grow_to(41));
  CHECK(b.bytes() == 0);
  CHECK(b.grow_to(40));
  CHECK(budget.in_use() == 100);
  {
    BodyBudget::Lease moved = std::move(a);
    CHECK(budget.in_use() == 100);
  }
  CHECK(budget.in_use() == 40);
  b.release();
  CHECK(budget.in_use() == 0);
}

TEST_CASE("decode gate: bytes and threads bound, first come first served",
          "[serve]") {
  DecodeGate gate(2, 100);
  std::vector<DecodeGate::Ticket> held;
  held.push_back(gate.enter(70));
  CHECK(gate.in_use() == 70);
  // Waits until `count` decodes wait in the gate (at most 10 s).
  const auto until_waiting = [&](std::size_t count) {
    for (int i = 0; i < 2000 && gate.waiting() != count; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return gate.waiting() == count;
  };
  // 80 does not fit beside 70; 25 would, but comes later and must wait. And
  // 80 and 25 do not fit together, so the order they are let in is the
  // order they record.
  std::atomic<int> order{0};
  std::atomic<int> big_at{0}, small_at{0};
  std::thread big([&] {
    DecodeGate::Ticket ticket = gate.enter(80);
    big_at = ++order;
  });
  REQUIRE(until_waiting(1));
  std::thread small([&] {
    DecodeGate::Ticket ticket = gate.enter(25);
    small_at = ++order;
  });
  const bool both_wait = until_waiting(2);
  CHECK(both_wait);
  CHECK(order == 0);
  held.clear();
  big.join();
  small.join();
  CHECK(big_at == 1);
  CHECK(small_at == 2);
  CHECK(gate.in_use() == 0);
  // More than the whole budget is given the whole budget.
  DecodeGate::Ticket all = gate.enter(1000);
  CHECK(gate.in_use() == 100);
}

TEST_CASE("decode cost: declared pixels times the format's bytes", "[serve]") {
  // A PNG declaring 3000 x 2000, its IDAT far too short for it: the charge
  // comes from the header, read by the PNG reader, before any decoding.
  const std::uint8_t png[] = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
      0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x0b, 0xb8, 0x00, 0x00, 0x07, 0xd0,
      0x08, 0x02, 0x00, 0x00, 0x00, 0xdd, 0x70, 0x85, 0x6d, 0x00, 0x00, 0x00,
      0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x40, 0x05, 0x00,
      0x00, 0x10, 0x00, 0x01, 0x39, 0xbd, 0x8f, 0x65, 0x00, 0x00, 0x00, 0x00,
      0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  const resnet_cli::DecodeOptions options;
  const DecodeCost cost = decode_cost(png, sizeof(png), options);
  CHECK(cost.width == 3000);
  CHECK(cost.height == 2000);
  CHECK(cost.bytes == 3000u * 2000u * 6u + (4u << 20));
  // Refused before decoding: nothing to charge.
  const std::uint8_t junk[] = {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i'};
  CHECK(decode_cost(junk, sizeof(junk), options).bytes == 0);
  CHECK(decode_cost(png, 20, options).bytes == 0);  // header cut short
  // Every format of the table has its own charge.
  for (const resnet_cli::ImageFormat* format : resnet_cli::image_formats()) {
    INFO(format->name);
    CHECK(decode_bytes_per_pixel(*format).value_or(0) > 0);
  }
}
