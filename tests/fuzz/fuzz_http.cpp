// libFuzzer target: raw bytes sent to the real server (serve's Server and
// HTTP layer, its routes, multipart reader, decoders and preprocessing) over
// a loopback TCP connection, which is then half-closed; everything the
// server answers is read until it closes. The model is a stand-in that
// answers zeros, so that an input costs no forward pass. The first byte
// picks the server: with or without an API key ("Bearer k").
//
// A finding: a crash or sanitizer report in any of the server's threads, an
// answer that is not a sequence of well-formed HTTP/1.x responses, or a
// connection the server does not close once the client's bytes are spent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "model/batch_queue.h"
#include "model/model.h"
#include "serve/server.h"

namespace {

// Answers every image with zeros, at once.
class ZeroModel : public resnet_cli::Model {
 public:
  void bind_thread(int) const override {}
  std::int64_t num_classes() const override { return 10; }
  std::int64_t feature_size() const override { return 4; }
  std::string architecture() const override { return "fuzz"; }
  std::string device() const override { return "cpu"; }
  resnet_cli::Precision precision() const override {
    return resnet_cli::Precision::kFloat32;
  }
  void forward(const float*, std::int64_t batch, std::int64_t, std::int64_t,
               float* logits) const override {
    std::memset(logits, 0, sizeof(float) * batch * num_classes());
  }
  void features(const float*, std::int64_t batch, std::int64_t, std::int64_t,
                float* out) const override {
    std::memset(out, 0, sizeof(float) * batch * feature_size());
  }
  std::unique_ptr<resnet_cli::BatchQueue> open_batch_queue(
      const resnet_cli::BatchShape&) const override {
    return nullptr;  // a CPU model
  }
  void forward_with_feature_maps(const float*, std::int64_t batch,
                                 std::int64_t height, std::int64_t width,
                                 float* logits, float* maps) const override {
    std::memset(logits, 0, sizeof(float) * batch * num_classes());
    std::memset(maps, 0,
                sizeof(float) * batch * feature_size() *
                    resnet_cli::feature_map_side(height) *
                    resnet_cli::feature_map_side(width));
  }
  std::vector<float> classifier_weight() const override {
    return std::vector<float>(num_classes() * feature_size(), 0.0f);
  }
};

struct Running {
  std::unique_ptr<resnet_cli::Server> server;
  std::thread thread;
};

Running start(const resnet_cli::ServedModel& served, const std::string& key) {
  resnet_cli::ServerOptions options;
  options.port = 0;
  options.api_key = key;
  options.max_body = 1 << 20;
  options.decode_memory = std::size_t{64} << 20;
  options.decode.max_pixels = 1 << 20;
  options.max_batch_delay_ms = 0;
  options.idle_timeout_s = 2;
  options.header_timeout_s = 2;
  options.request_timeout_s = 2;
  options.http_threads = 4;
  options.plan.workers = 1;
  options.plan.batch_size = 2;
  options.plan.decode_threads = 2;
  Running running;
  running.server = std::make_unique<resnet_cli::Server>(served, options);
  running.thread =
      std::thread([server = running.server.get()] { server->run(); });
  return running;
}

// Made once and never destroyed: the servers run until the process exits.
const ZeroModel* g_model = nullptr;
Running* g_servers = nullptr;

[[noreturn]] void finding(const char* what, const std::string& answer) {
  std::fprintf(stderr, "fuzz_http: %s\n%.2000s\n", what, answer.c_str());
  std::abort();
}

// Each response: a status line, header lines, the blank line, and as many
// body bytes as Content-Length says (every answer of this server has one),
// or none when a HEAD request's answer is followed by the next answer or by
// the end.
void check_responses(const std::string& answer) {
  std::size_t at = 0;
  while (at < answer.size()) {
    const std::size_t end = answer.find("\r\n\r\n", at);
    if (end == std::string::npos) finding("an incomplete response", answer);
    const std::string head = answer.substr(at, end - at);
    if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12 || head[8] != ' ') {
      finding("a response without a status line", answer);
    }
    const int status = std::atoi(head.c_str() + 9);
    if (status < 100 || status > 599) finding("a status out of range", answer);
    std::size_t length = 0;
    const std::size_t field = head.find("\r\nContent-Length: ");
    if (field != std::string::npos) {
      length = std::strtoul(head.c_str() + field + 18, nullptr, 10);
    } else if (status != 100) {
      finding("a response without Content-Length", answer);
    }
    at = end + 4;
    const bool bodiless =
        at == answer.size() || answer.compare(at, 7, "HTTP/1.") == 0;
    if (!bodiless) at += length;
    if (at > answer.size()) finding("a body cut short", answer);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  resnet_cli::ServedModel served;
  g_model = new ZeroModel;
  served.model = g_model;
  served.transform.resize_size = 40;
  served.transform.crop_size = 32;
  g_servers = new Running[2];
  g_servers[0] = start(served, "");
  g_servers[1] = start(served, "k");
  g_servers[0].thread.detach();
  g_servers[1].thread.detach();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size == 0) return 0;
  const resnet_cli::Server& server = *g_servers[data[0] & 1].server;
  const int sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(server.port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (sock < 0 || ::connect(sock, reinterpret_cast<sockaddr*>(&address),
                            sizeof(address)) != 0) {
    std::perror("fuzz_http: connect");
    std::abort();
  }
  // Sends and reads at once, so that neither side's buffer fills.
  std::size_t sent = 1;
  if (sent == size) ::shutdown(sock, SHUT_WR);
  std::string answer;
  char buffer[65536];
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool closed = false;
  while (!closed) {
    if (std::chrono::steady_clock::now() > deadline) {
      finding("the server did not close the connection", answer);
    }
    pollfd entry{sock, static_cast<short>(POLLIN | (sent < size ? POLLOUT : 0)),
                 0};
    if (::poll(&entry, 1, 100) <= 0) continue;
    if (entry.revents & POLLOUT) {
      const ssize_t put =
          ::send(sock, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (put > 0) sent += static_cast<std::size_t>(put);
      if (put < 0) sent = size;  // the server closed: it read enough
      if (sent == size) ::shutdown(sock, SHUT_WR);
    }
    if (entry.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t got = ::recv(sock, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (got > 0) answer.append(buffer, static_cast<std::size_t>(got));
      closed = got == 0 || (got < 0 && errno != EAGAIN);
    }
  }
  ::close(sock);
  check_responses(answer);
  return 0;
}
