#include "serve/connections.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>

namespace resnet_cli::server {

namespace {

using Clock = std::chrono::steady_clock;

thread_local Clock::time_point t_request_start;
thread_local bool t_close_after_response = false;

// cpp-httplib hands every accepted socket to its task queue; this one runs
// the task on the accepting thread, where it only registers the socket.
class InlineQueue : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> task) override { task(); }
  void shutdown() override {}
};

int milliseconds_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd entry{fd, events, 0};
  for (;;) {
    const int ready = ::poll(&entry, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    return ready > 0;
  }
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  const int got =
      peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length)
           : ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  if (got != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    port = ntohs(v4->sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    port = ntohs(v6->sin6_port);
  }
  ip = text;
}

// A connection's stream for cpp-httplib: buffered reads that all end at the
// request's deadline, writes that give up after the write timeout.
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(int fd, std::chrono::milliseconds write_timeout)
      : fd_(fd), write_timeout_ms_(static_cast<int>(write_timeout.count())) {}

  void begin_request(Clock::time_point deadline) { deadline_ = deadline; }
  bool failed() const { return failed_; }
  bool has_buffered() const { return offset_ < size_; }

  bool is_readable() const override {
    return has_buffered() ||
           wait_for(fd_, POLLIN, milliseconds_until(deadline_));
  }
  bool is_writable() const override {
    return wait_for(fd_, POLLOUT, write_timeout_ms_);
  }

  ssize_t read(char* data, size_t size) override {
    if (!has_buffered()) {
      if (failed_ || !is_readable()) {
        failed_ = true;
        return -1;
      }
      ssize_t got;
      do {
        got = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
      } while (got < 0 && errno == EINTR);
      if (got <= 0) {
        failed_ = true;
        return got;
      }
      offset_ = 0;
      size_ = static_cast<std::size_t>(got);
    }
    const std::size_t count = std::min(size, size_ - offset_);
    std::memcpy(data, buffer_.data() + offset_, count);
    offset_ += count;
    return static_cast<ssize_t>(count);
  }

  ssize_t write(const char* data, size_t size) override {
    if (failed_ || !is_writable()) {
      failed_ = true;
      return -1;
    }
    ssize_t sent;
    do {
      sent = ::send(fd_, data, size, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) failed_ = true;
    return sent;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address_of(fd_, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(fd_, false, ip, port);
  }
  // Debian's cpp-httplib 0.11 is built for select(), and its request parser
  // answers 500 to a stream whose socket is at or above FD_SETSIZE. This
  // stream polls and never selects, so it shows that guard no descriptor.
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  int fd_;
  int write_timeout_ms_;
  Clock::time_point deadline_;
  bool failed_ = false;
  std::array<char, 16384> buffer_{};
  std::size_t offset_ = 0;
  std::size_t size_ = 0;
};

// The answer to a connection past --max-connections, made once, with its
// Content-Length counted rather than written by hand.
const std::string& busy_response() {
  static const std::string response = [] {
    const std::string body =
        R"({"code":503,"type":"busy",)"
        R"("message":"too many connections, retry later"})";
    return "HTTP/1.1 503 Service Unavailable\r\n"
           "Content-Type: application/json\r\n"
           "Retry-After: 1\r\n"
           "Connection: close\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return response;
}

}  // namespace

Connections::Connections(const ConnectionLimits& limits) : limits_(limits) {
  new_task_queue = [] { return new InlineQueue; };
  // What cpp-httplib's Keep-Alive header announces.
  set_keep_alive_max_count(
      static_cast<std::size_t>(limits_.max_requests_per_connection));
  set_keep_alive_timeout(
      std::chrono::duration_cast<std::chrono::seconds>(limits_.idle_timeout)
          .count());
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
  watcher_ = std::thread([this] { watch(); });
  for (int i = 0; i < std::max(1, limits_.threads); ++i) {
    workers_.emplace_back([this] { work(); });
  }
}

Connections::~Connections() {
  shut_down();
  ::close(epoll_fd_);
  ::close(wake_fd_);
}

Clock::time_point Connections::request_start() { return t_request_start; }

void Connections::close_after_response(httplib::Response& response) {
  response.set_header("Connection", "close");
  t_close_after_response = true;
}

bool Connections::process_and_close_socket(socket_t sock) {
  if (stopping_ || open_.load() >= limits_.max_connections) {
    if (!stopping_) {
      [[maybe_unused]] const ssize_t sent =
          ::send(sock, busy_response().data(), busy_response().size(),
                 MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::shutdown(sock, SHUT_WR);
    ::close(sock);
    return true;
  }
  ++open_;
  const int on = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  park(sock, limits_.idle_timeout);
  return true;
}

void Connections::park(int fd, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(mutex_);
  parked_[fd] = Clock::now() + timeout;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP;
  event.data.fd = fd;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
}

// Half-closes, then reads what the client still sends for a moment, so that
// the close does not reset the connection before the client has read the
// response (a socket closed with unread input sends RST).
void Connections::close_connection(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto until = Clock::now() + std::chrono::milliseconds(200);
  std::array<char, 4096> discard;
  std::size_t drained = 0;
  while (drained < (1u << 20) &&
         wait_for(fd, POLLIN, milliseconds_until(until))) {
    const ssize_t got = ::recv(fd, discard.data(), discard.size(), 0);
    if (got <= 0) break;
    drained += static_cast<std::size_t>(got);
  }
  ::close(fd);
  --open_;
  changed_.notify_all();
}

void Connections::serve(int fd) {
  DeadlineStream stream(fd, limits_.write_timeout);
  for (int served = 1;; ++served) {
    t_request_start = Clock::now();
    t_close_after_response = false;
    stream.begin_request(t_request_start + limits_.request_timeout);
    const bool last =
        stopping_ || served >= limits_.max_requests_per_connection;
    bool closed = false;
    const bool ok = process_request(stream, last, closed, nullptr);
    if (!ok || closed || last || t_close_after_response || stream.failed()) {
      close_connection(fd);
      return;
    }
    if (!stream.has_buffered()) break;  // else a pipelined request follows
  }
  park(fd, limits_.idle_timeout);
}

void Connections::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] {
      return !ready_.empty() || (stopping_ && parked_.empty() && busy_ == 0);
    });
    if (ready_.empty()) return;
    const int fd = ready_.front();
    ready_.pop_front();
    ++busy_;
    lock.unlock();
    serve(fd);
    lock.lock();
    --busy_;
    changed_.notify_all();
  }
}

void Connections::dispatch_ready(int count, const void* events) {
  const auto* ready = static_cast<const epoll_event*>(events);
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < count; ++i) {
    const int fd = ready[i].data.fd;
    if (fd == wake_fd_) {
      std::uint64_t value;
      [[maybe_unused]] const ssize_t got =
          ::read(wake_fd_, &value, sizeof(value));
      continue;
    }
    if (parked_.erase(fd) == 0) continue;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    ready_.push_back(fd);
  }
  changed_.notify_all();
}

// Closes connections that waited too long for a request; when stopping,
// every connection that has sent nothing.
void Connections::expire_parked() {
  std::vector<int> expired;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = Clock::now();
    for (auto it = parked_.begin(); it != parked_.end();) {
      const bool has_request = stopping_ && wait_for(it->first, POLLIN, 0);
      if (has_request) {  // sent before the stop: answered
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->first, nullptr);
        ready_.push_back(it->first);
        it = parked_.erase(it);
      } else if (stopping_ || it->second <= now) {
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->first, nullptr);
        expired.push_back(it->first);
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
  }
  changed_.notify_all();
  for (int fd : expired) {
    ::close(fd);
    --open_;
  }
  if (!expired.empty()) changed_.notify_all();
}

void Connections::watch() {
  std::array<epoll_event, 128> events;
  for (;;) {
    const int count = ::epoll_wait(epoll_fd_, events.data(),
                                   static_cast<int>(events.size()), 100);
    if (count > 0) dispatch_ready(count, events.data());
    expire_parked();
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && parked_.empty() && ready_.empty() && busy_ == 0) {
      changed_.notify_all();
      return;
    }
  }
}

void Connections::begin_shutdown() {
  if (stopping_.exchange(true)) return;
  stop();
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t put = ::write(wake_fd_, &one, sizeof(one));
}

void Connections::shut_down() {
  begin_shutdown();
  std::call_once(joined_, [this] {
    watcher_.join();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      changed_.notify_all();
    }
    for (std::thread& worker : workers_) worker.join();
  });
}

}  // namespace resnet_cli::server
