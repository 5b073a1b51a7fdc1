// Connections for cpp-httplib's server, bounded: cpp-httplib parses HTTP and
// routes; this class owns the sockets it accepts. A connection waiting for a
// request holds no thread (epoll watches it); one that sends a request is
// served on a pool thread, and the whole request (line, headers and body)
// must arrive within one deadline, so that a client sending a byte a second
// is dropped. Connections beyond a limit are answered 503 and closed at once.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace resnet_cli::server {

struct ConnectionLimits {
  int max_connections = 1024;
  int threads = 16;  // connections served at once
  // From a request's first byte to its last; then the connection closes.
  std::chrono::milliseconds request_timeout{30000};
  // How long a connection may wait for its next request (its first too).
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds write_timeout{10000};
  int max_requests_per_connection = 1000;
};

class Connections : public httplib::Server {
 public:
  explicit Connections(const ConnectionLimits& limits);
  ~Connections() override;

  // Stops accepting (listen() returns); the requests already received are
  // still answered, idle connections closed. Any thread, any number of times.
  void begin_shutdown();
  // begin_shutdown(), then waits until no connection is left.
  void shut_down();

  int open_connections() const { return open_.load(); }
  // When the request being served on the calling thread began.
  static std::chrono::steady_clock::time_point request_start();
  // Makes the connection of the request being served on the calling thread
  // close after `response` (a body left unread), and says so in it
  // (Connection: close), so that a client does not send its next request
  // on a connection that is closing.
  static void close_after_response(httplib::Response& response);

 private:
  bool process_and_close_socket(socket_t sock) override;
  void serve(int fd);
  void park(int fd, std::chrono::milliseconds timeout);
  void close_connection(int fd);
  void watch();
  void dispatch_ready(int count, const void* events);
  void expire_parked();
  void work();

  ConnectionLimits limits_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::once_flag joined_;
  std::atomic<int> open_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int, std::chrono::steady_clock::time_point> parked_;
  std::deque<int> ready_;
  int busy_ = 0;
  std::thread watcher_;
  std::vector<std::thread> workers_;
};

}  // namespace resnet_cli::server
