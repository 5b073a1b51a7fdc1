#include "serve/http_server.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <unordered_map>
#include <unordered_set>

#include "base/error.h"
#include "serve/http_framing.h"
#include "serve/memory_budget.h"

namespace resnet_cli::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// A connection's read buffer: what Beast reads into and parses from. It
// never holds more, so that a connection costs at most this beside its
// request's head.
constexpr std::size_t kBufferLimit = 32 << 10;
constexpr std::size_t kFirstRead = 4 << 10;
// After an answer that closes: how long, and how much, the rest of what the
// client sends is read and dropped, so that the close does not reset the
// connection before the client has read the answer.
constexpr auto kLinger = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 4 << 20;
// Connections being refused (503) at once; beyond, they are closed unanswered.
constexpr int kMaxRefusing = 1024;
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

// The read buffer, counting what it took in: the stream offset of the next
// request is committed() - size().
class CountingBuffer : public beast::flat_buffer {
 public:
  explicit CountingBuffer(std::size_t limit) : beast::flat_buffer(limit) {}
  void commit(std::size_t n) {
    committed_ += n;
    beast::flat_buffer::commit(n);
  }
  std::uint64_t committed() const { return committed_; }

 private:
  std::uint64_t committed_ = 0;
};

// A request body held against the server's BodyBudget as it arrives. With a
// Content-Length the lease already holds it all and the string is reserved
// once; a chunked body reserves --max-body of address space (its pages
// count only once written) so that it is never copied to grow.
struct BudgetedBody {
  struct value_type {
    std::string bytes;
    BodyBudget::Lease* lease = nullptr;
    std::size_t chunked_reserve = 0;
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    // Errors, never exceptions: they would leave the event loop.
    void init(const boost::optional<std::uint64_t>& length,
              beast::error_code& ec) {
      ec = {};
      try {
        body_.bytes.reserve(length ? static_cast<std::size_t>(*length)
                                   : body_.chunked_reserve);
      } catch (const std::exception&) {
        ec = make_error_code(boost::system::errc::not_enough_memory);
      }
    }

    template <class Buffers>
    std::size_t put(const Buffers& buffers, beast::error_code& ec) {
      const std::size_t size = beast::buffer_bytes(buffers);
      ec = make_error_code(boost::system::errc::not_enough_memory);
      if (!body_.lease || !body_.lease->grow_to(body_.bytes.size() + size)) {
        return 0;
      }
      try {
        for (const auto buffer : beast::buffers_range_ref(buffers)) {
          body_.bytes.append(static_cast<const char*>(buffer.data()),
                             buffer.size());
        }
      } catch (const std::exception&) {
        return 0;
      }
      ec = {};
      return size;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

using Parser = http::request_parser<BudgetedBody>;

std::string peer_address(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return "-";
  asio::ip::address address = peer.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

class Connection;

}  // namespace

struct HttpServer::Impl {
  Impl(const HttpLimits& limits_in, HttpHandler& handler_in)
      : limits(limits_in),
        handler(handler_in),
        bodies(limits_in.body_memory),
        workers(static_cast<std::size_t>(std::max(1, limits_in.workers))) {}

  void accept();
  void admit(tcp::socket socket);
  void drain();
  void forget(Connection* connection, const std::string& client, bool counted);
  // The handler's answers, never throwing: an exception becomes 500, and
  // an error() that throws gives the bare status.
  HttpResponse handle_safely(const HttpRequest& request);
  HttpResponse error_safely(int status, const std::string& message);

  HttpLimits limits;
  HttpHandler& handler;
  // Before the loop: connections its destructor drops give their bytes back.
  BodyBudget bodies;
  std::atomic<bool> stopping{false};
  bool drained = false;
  std::atomic<int> open{0};
  int refusing = 0;
  int bound_port = 0;
  std::unordered_set<Connection*> connections;
  std::unordered_map<std::string, int> per_client;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer retry{io};
  asio::thread_pool workers;
  std::array<char, 16384> discard{};  // lingering reads land here
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer::Impl& server, tcp::socket socket, std::string client,
             bool counted)
      : server_(server),
        stream_(std::move(socket)),
        client_(std::move(client)),
        counted_(counted) {}
  // Dropped without finish(): a handler threw on the loop.
  ~Connection() {
    if (!finished_) server_.forget(this, client_, counted_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Serves requests until the connection closes.
  void start();
  // Answers at once with the layer's 503 and closes.
  void refuse(const std::string& message);
  // The server is stopping: what arrived before is still answered.
  void on_stop();

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kClosing };

  void wait_for_request();
  void on_first_bytes(beast::error_code ec, std::size_t size);
  void begin_request();
  void on_header(beast::error_code ec);
  void accept_body(const Framing& framing);
  void read_body();
  void on_body(beast::error_code ec);
  void read_failed(beast::error_code ec);
  void dispatch();
  void fail(int status, const std::string& message);
  void respond(HttpResponse response);
  void on_written(beast::error_code ec);
  void linger();
  void on_lingered(beast::error_code ec, std::size_t size);
  void finish();
  bool owes_more() const;
  HttpRequest head(const http::request<BudgetedBody>& message) const;

  HttpServer::Impl& server_;
  beast::tcp_stream stream_;
  CountingBuffer buffer_{kBufferLimit};
  std::optional<Parser> parser_;
  std::string client_;
  bool counted_;
  Phase phase_ = Phase::kIdle;
  Clock::time_point started_ = Clock::now();
  HttpRequest request_;
  bool parsed_ = false;  // request_ holds a request line and headers
  bool on_worker_ = false;
  BodyBudget::Lease lease_;
  http::response<http::string_body> out_;
  HttpResponse answer_;  // its body moved into out_
  bool closing_ = false;
  // After stop(): the stream offset up to which bytes had arrived.
  std::optional<std::uint64_t> owed_until_;
  std::size_t lingered_ = 0;
  bool finished_ = false;
};

void Connection::start() {
  if (server_.stopping) on_stop();
  wait_for_request();
}

void Connection::refuse(const std::string& message) {
  started_ = Clock::now();
  fail(503, message);
}

void Connection::on_stop() {
  beast::error_code ec;
  const std::size_t waiting = stream_.socket().available(ec);
  owed_until_ = buffer_.committed() + waiting;
  if (phase_ == Phase::kIdle && buffer_.size() == 0 && waiting == 0) {
    stream_.cancel();  // on_first_bytes closes it
  }
}

// More bytes had arrived before stop() than the requests answered so far.
bool Connection::owes_more() const {
  return owed_until_ && buffer_.committed() - buffer_.size() < *owed_until_;
}

void Connection::wait_for_request() {
  phase_ = Phase::kIdle;
  if (buffer_.size() > 0) {
    begin_request();  // pipelined: already here
    return;
  }
  if (server_.stopping && !owes_more()) {
    finish();
    return;
  }
  buffer_.shrink_to_fit();
  stream_.expires_after(server_.limits.idle_timeout);
  stream_.async_read_some(
      buffer_.prepare(kFirstRead),
      [self = shared_from_this()](beast::error_code ec, std::size_t size) {
        self->on_first_bytes(ec, size);
      });
}

void Connection::on_first_bytes(beast::error_code, std::size_t size) {
  buffer_.commit(size);
  // Nothing came: the idle timeout, the client's close, or stop().
  if (buffer_.size() == 0) {
    finish();
    return;
  }
  begin_request();
}

void Connection::begin_request() {
  phase_ = Phase::kReading;
  started_ = Clock::now();
  parsed_ = false;
  request_ = HttpRequest();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(server_.limits.max_header));
  parser_->body_limit(boost::none);  // checked once the length is known
  stream_.expires_at(started_ + server_.limits.header_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->on_header(ec);
      });
}

HttpRequest Connection::head(const http::request<BudgetedBody>& message) const {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.version = static_cast<int>(message.version());
  for (const auto& field : message) {
    request.headers.emplace_back(std::string(field.name_string()),
                                 std::string(field.value()));
  }
  request.client = client_;
  return request;
}

void Connection::on_header(beast::error_code ec) {
  if (ec) {
    read_failed(ec);
    return;
  }
  request_ = head(parser_->get());
  parsed_ = true;
  const Framing framing = check_framing(request_);
  if (framing.status != 0) {
    fail(framing.status, framing.message);
    return;
  }
  request_.has_body = framing.chunked || framing.content_length.value_or(0) > 0;
  HttpHandler::Screened screened;
  try {
    screened = server_.handler.screen(request_);
  } catch (const std::exception& e) {
    screened.refusal = server_.error_safely(500, e.what());
  }
  if (screened.refusal) {
    // Its body stays unread: the connection cannot carry another request.
    screened.refusal->close = screened.refusal->close || request_.has_body;
    respond(std::move(*screened.refusal));
    return;
  }
  on_worker_ = screened.on_worker;
  accept_body(framing);
}

// The length checked and held against the budget before a byte of the body
// is read; then 100 Continue if the client waits for it.
void Connection::accept_body(const Framing& framing) {
  if (!request_.has_body) {
    dispatch();
    return;
  }
  const std::size_t max_body = server_.limits.max_body;
  if (framing.content_length && *framing.content_length > max_body) {
    fail(413, "body of " + std::to_string(*framing.content_length) +
                  " bytes, larger than --max-body (" +
                  std::to_string(max_body) + " bytes)");
    return;
  }
  lease_ = server_.bodies.lease();
  if (framing.content_length &&
      !lease_.grow_to(static_cast<std::size_t>(*framing.content_length))) {
    fail(503, "the bodies being received fill --body-memory; retry later");
    return;
  }
  BudgetedBody::value_type& body = parser_->get().body();
  body.lease = &lease_;
  body.chunked_reserve = max_body;
  parser_->body_limit(static_cast<std::uint64_t>(max_body));
  if (!framing.expect_continue) {
    read_body();
    return;
  }
  static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  stream_.expires_at(started_ + server_.limits.request_timeout);
  asio::async_write(
      stream_, asio::buffer(kContinue),
      [self = shared_from_this()](beast::error_code write_error, std::size_t) {
        if (write_error) {
          self->finish();
          return;
        }
        self->read_body();
      });
}

void Connection::read_body() {
  stream_.expires_at(started_ + server_.limits.request_timeout);
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->on_body(ec);
      });
}

void Connection::on_body(beast::error_code ec) {
  if (ec) {
    read_failed(ec);
    return;
  }
  request_.body = std::move(parser_->get().body().bytes);
  dispatch();
}

void Connection::read_failed(beast::error_code ec) {
  if (ec == http::error::body_limit) {
    fail(413, "body larger than --max-body (" +
                  std::to_string(server_.limits.max_body) + " bytes)");
  } else if (ec == boost::system::errc::not_enough_memory) {
    fail(503, "the bodies being received fill --body-memory; retry later");
  } else if (ec == beast::error::timeout) {
    fail(408, parsed_ ? "body not received within --request-timeout"
                      : "headers not received within --header-timeout");
  } else if (ec == http::error::header_limit ||
             ec == http::error::buffer_overflow) {
    fail(431, "request line and headers longer than " +
                  std::to_string(server_.limits.max_header) + " bytes");
  } else if (ec == http::error::bad_version &&
             names_http_version(std::string_view(
                 static_cast<const char*>(buffer_.data().data()),
                 buffer_.size()))) {
    fail(505, "HTTP version not supported (1.0 and 1.1 are)");
  } else if (ec == http::error::partial_message) {
    fail(400, "request cut short");
  } else if (ec != http::error::end_of_stream &&
             ec.category() ==
                 make_error_code(http::error::end_of_stream).category()) {
    // Beast's parse errors (bad_method, bad_field, bad_content_length,
    // bad_transfer_encoding, bad_chunk, multiple_content_length, ...).
    fail(400, "malformed request: " + ec.message());
  } else {
    finish();  // the connection failed (reset, closed): nobody to answer
  }
}

void Connection::dispatch() {
  phase_ = Phase::kHandling;
  stream_.expires_never();
  if (!on_worker_) {
    respond(server_.handle_safely(request_));
    return;
  }
  // The request is the worker's until it posts the answer back.
  asio::post(server_.workers, [self = shared_from_this(),
                               guard = asio::make_work_guard(server_.io)] {
    HttpResponse response = self->server_.handle_safely(self->request_);
    asio::post(self->server_.io,
               [self, response = std::move(response)]() mutable {
                 self->respond(std::move(response));
               });
  });
}

void Connection::fail(int status, const std::string& message) {
  HttpResponse response = server_.error_safely(status, message);
  response.close = true;
  respond(std::move(response));
}

void Connection::respond(HttpResponse response) {
  phase_ = Phase::kWriting;
  answer_ = std::move(response);
  const bool keep_alive = parsed_ && parser_ && parser_->keep_alive();
  closing_ = answer_.close || !keep_alive || (server_.stopping && !owes_more());
  out_ = {};
  out_.version(parsed_ && request_.version == 10 ? 10 : 11);
  out_.result(static_cast<unsigned>(answer_.status));
  for (const auto& [name, value] : answer_.headers) out_.set(name, value);
  if (!answer_.content_type.empty()) {
    out_.set(http::field::content_type, answer_.content_type);
  }
  const std::size_t size = answer_.body.size();
  out_.body() = std::move(answer_.body);
  out_.keep_alive(!closing_);
  if (closing_) out_.set(http::field::connection, "close");
  if (parsed_ && request_.method == "HEAD") {
    out_.body().clear();
    out_.content_length(size);
  } else {
    out_.prepare_payload();
  }
  stream_.expires_after(server_.limits.request_timeout);
  http::async_write(
      stream_, out_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->on_written(ec);
      });
}

void Connection::on_written(beast::error_code ec) {
  const double seconds =
      std::chrono::duration<double>(Clock::now() - started_).count();
  try {
    server_.handler.answered(parsed_ ? &request_ : nullptr, answer_.status,
                             out_.body().size(), seconds);
  } catch (const std::exception&) {
    // A log line that could not be written loses nothing of the answer.
  }
  lease_.release();
  request_ = HttpRequest();
  answer_ = HttpResponse();
  out_ = {};
  parser_.reset();
  if (ec || closing_) {
    linger();
    return;
  }
  wait_for_request();
}

void Connection::linger() {
  phase_ = Phase::kClosing;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  buffer_.consume(buffer_.size());
  stream_.expires_after(kLinger);
  stream_.async_read_some(asio::buffer(server_.discard),
                          [self = shared_from_this()](
                              beast::error_code read_error, std::size_t size) {
                            self->on_lingered(read_error, size);
                          });
}

void Connection::on_lingered(beast::error_code ec, std::size_t size) {
  lingered_ += size;
  if (ec || lingered_ >= kLingerBytes) {
    finish();
    return;
  }
  stream_.async_read_some(asio::buffer(server_.discard),
                          [self = shared_from_this()](
                              beast::error_code read_error, std::size_t read) {
                            self->on_lingered(read_error, read);
                          });
}

void Connection::finish() {
  if (finished_) return;
  finished_ = true;
  phase_ = Phase::kClosing;
  beast::error_code ec;
  stream_.socket().close(ec);
  server_.forget(this, client_, counted_);
}

}  // namespace

HttpResponse HttpServer::Impl::handle_safely(const HttpRequest& request) {
  try {
    return handler.handle(request);
  } catch (const std::exception& e) {
    return error_safely(500, e.what());
  }
}

HttpResponse HttpServer::Impl::error_safely(int status,
                                            const std::string& message) {
  try {
    return handler.error(status, message);
  } catch (const std::exception&) {
    HttpResponse bare;
    bare.status = status;
    return bare;
  }
}

void HttpServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (!ec) {
      admit(std::move(socket));
    } else if (ec == asio::error::no_descriptors ||
               ec == asio::error::no_buffer_space ||
               ec == asio::error::no_memory) {
      // Out of descriptors: accepting again at once would spin.
      retry.expires_after(kAcceptRetry);
      retry.async_wait([this](beast::error_code wait_error) {
        if (!wait_error) accept();
      });
      return;
    }
    accept();
  });
}

void HttpServer::Impl::admit(tcp::socket socket) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  std::string client = peer_address(socket);
  int& from_client = per_client[client];
  const bool over_all = open.load() >= limits.max_connections;
  const bool over_client = from_client >= limits.max_client_connections;
  if (over_all || over_client) {
    if (from_client == 0) per_client.erase(client);
    if (refusing >= kMaxRefusing) return;  // closed unanswered
    ++refusing;
    auto connection =
        std::make_shared<Connection>(*this, std::move(socket), client, false);
    connections.insert(connection.get());
    connection->refuse(over_all ? "too many connections, retry later"
                                : "too many connections from " + client +
                                      " (--max-client-connections), retry "
                                      "later");
    return;
  }
  ++from_client;
  ++open;
  auto connection =
      std::make_shared<Connection>(*this, std::move(socket), client, true);
  connections.insert(connection.get());
  connection->start();
}

void HttpServer::Impl::forget(Connection* connection, const std::string& client,
                              bool counted) {
  connections.erase(connection);
  if (!counted) {
    --refusing;
    return;
  }
  --open;
  const auto found = per_client.find(client);
  if (found != per_client.end() && --found->second <= 0) {
    per_client.erase(found);
  }
}

// Once, on the event loop: connections already in the backlog are taken (a
// request they sent is answered), the listening socket closes, and every
// connection learns that the server stops.
void HttpServer::Impl::drain() {
  if (drained) return;
  drained = true;
  beast::error_code ec;
  if (acceptor.is_open()) {
    acceptor.non_blocking(true, ec);
    for (;;) {
      tcp::socket socket(io);
      acceptor.accept(socket, ec);
      if (ec) break;
      admit(std::move(socket));
    }
    acceptor.close(ec);
  }
  retry.cancel();
  // on_stop() may close a connection, which leaves the set.
  const std::vector<Connection*> current(connections.begin(),
                                         connections.end());
  for (Connection* connection : current) {
    if (connections.count(connection)) connection->on_stop();
  }
}

HttpServer::HttpServer(const HttpLimits& limits, HttpHandler& handler)
    : impl_(std::make_unique<Impl>(limits, handler)) {}

HttpServer::~HttpServer() { impl_->workers.join(); }

void HttpServer::listen(const std::string& host, int port) {
  const std::string where = host + ":" + std::to_string(port);
  const auto refuse = [&](const beast::error_code& ec) {
    throw Error(ErrorKind::kUsage,
                where + ": cannot listen there: " + ec.message());
  };
  beast::error_code ec;
  tcp::resolver resolver(impl_->io);
  const auto endpoints = resolver.resolve(
      host, std::to_string(port),
      tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) refuse(ec);
  tcp::acceptor& acceptor = impl_->acceptor;
  for (const auto& entry : endpoints) {
    acceptor.open(entry.endpoint().protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(entry.endpoint(), ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) break;
    beast::error_code ignored;
    acceptor.close(ignored);
  }
  if (ec) refuse(ec);
  if (!acceptor.is_open()) refuse(asio::error::host_not_found);
  impl_->bound_port = acceptor.local_endpoint(ec).port();
}

int HttpServer::port() const { return impl_->bound_port; }

void HttpServer::run() {
  // A stop() before now has posted its drain already: it runs first thing.
  if (impl_->acceptor.is_open()) impl_->accept();
  for (;;) {
    try {
      impl_->io.run();
      break;
    } catch (const std::exception&) {
      // What a handler on the loop threw (out of memory, at worst): its
      // connection is dropped (~Connection), every other one goes on; the
      // metrics count it as a 500.
      try {
        impl_->handler.answered(nullptr, 500, 0, 0);
      } catch (const std::exception&) {
      }
    }
  }
  impl_->workers.join();
}

void HttpServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  asio::post(impl_->io, [this] { impl_->drain(); });
}

int HttpServer::open_connections() const { return impl_->open.load(); }

std::size_t HttpServer::body_bytes() const { return impl_->bodies.in_use(); }

}  // namespace resnet_cli::server
