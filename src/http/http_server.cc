#include "http/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "common/log.h"
#include "http/request_parsing.h"

namespace vectord::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
  ServerOptions options;
  const ApiHandler* handler;
  ThreadPool* workers;
  RequestObserver observer;
  // Before the contexts: sessions still queued in them count down when the
  // contexts are destroyed.
  std::atomic<size_t> open_sessions{0};
  // One io_context per io thread, each run by that thread alone: a
  // connection stays on the context it was accepted onto, so its handlers
  // need no strand and posting to it wakes no other thread.
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  size_t next_context = 0;                        // touched only by the acceptor's handler
  std::optional<net::steady_timer> accept_retry;  // after accept itself failed
  // Refused connections are logged at most once a second (a flood would
  // otherwise flood the log too); the acceptor's handler alone touches these.
  uint64_t refused_since_log = 0;
  std::chrono::steady_clock::time_point last_refusal_log{};
  std::vector<std::thread> threads;
  std::atomic<bool> draining{false};
  std::atomic<int64_t> in_flight{0};
  std::atomic<uint64_t> next_request_id{1};

  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  static constexpr size_t kReadBufferBytes = 16 << 10;

  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {
    server_.open_sessions.fetch_add(1, std::memory_order_relaxed);
    // Beast reads max(512, free space) bytes at a time, and its parser
    // consumes what it reads, so a buffer that starts small stays at 512
    // (18 reads for a 9 KB search body). With room reserved, one read takes
    // a typical request whole.
    buffer_.reserve(kReadBufferBytes);
  }

  ~Session() { server_.open_sessions.fetch_sub(1, std::memory_order_relaxed); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

 private:
  void ReadHeader() {
    parser_.emplace();
    LimitRequestParser(*parser_, server_.options.body_limit, server_.options.header_limit);
    stream_.expires_after(first_request_ ? server_.options.header_timeout
                                         : server_.options.idle_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    first_request_ = false;
    if (ec) return OnReadError(ec);
    auto& request = parser_->get();
    if (std::optional<ReadRejection> rejection = CheckHeader(*parser_)) {
      return Reject(rejection->status, rejection->message);
    }
    if (beast::iequals(request[bhttp::field::expect], "100-continue")) {
      // Clients such as curl wait for this before sending a large body.
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       request.version());
      bhttp::async_write(stream_, *cont,
                         [self = shared_from_this(), cont](beast::error_code wec, size_t) {
                           if (wec) return self->Close();
                           self->ReadBody();
                         });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(server_.options.body_timeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnReadError(beast::error_code ec) {
    std::optional<ReadRejection> rejection = RejectionFor(ec);
    if (!rejection) return Close();
    return Reject(rejection->status, rejection->message);
  }

  void OnBody(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    stream_.expires_never();
    RawRequest raw = parser_->release();
    keep_alive_ = raw.keep_alive();
    version_ = raw.version();
    auto request = std::make_shared<HttpRequest>(ToHttpRequest(std::move(raw)));

    server_.in_flight.fetch_add(1, std::memory_order_acq_rel);
    auto started = std::chrono::steady_clock::now();
    if (server_.handler->RunsInline(*request)) {
      // Short and never waits on I/O: handing it to a worker and back would
      // cost two thread switches, a large share of a search's time.
      HttpResponse response = server_.handler->Handle(*request);
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (server_.observer) server_.observer(*request, response, seconds);
      return Write(std::move(response), true);
    }
    server_.workers->Submit([self = shared_from_this(), request, started]() mutable {
      HttpResponse response = self->server_.handler->Handle(*request);
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (self->server_.observer) self->server_.observer(*request, response, seconds);
      // The worker gives up its reference: the session then ends on its io
      // thread (or with its io_context), never on a worker that may still be
      // unwinding this task after the server is gone.
      auto executor = self->stream_.get_executor();
      net::post(executor, [self = std::move(self), response = std::move(response)]() mutable {
        self->Write(std::move(response), true);
      });
    });
  }

  // Answers a request that could not be read, then closes.
  void Reject(int status, const std::string& message) {
    keep_alive_ = false;
    HttpResponse response = ApiHandler::Error(status, message);
    response.route = "rejected";
    if (server_.observer) server_.observer(HttpRequest{}, response, 0.0);
    Write(std::move(response), false);
  }

  void Write(HttpResponse response, bool counted) {
    const bool close = !keep_alive_ || server_.draining.load(std::memory_order_acquire);
    response_.emplace(static_cast<bhttp::status>(response.status), version_ == 0 ? 11 : version_);
    auto& res = *response_;
    res.set(bhttp::field::server, "vectord");
    if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res.set(name, value);
    res.body() = std::move(response.body);
    res.keep_alive(!close);
    res.prepare_payload();
    stream_.expires_after(server_.options.body_timeout);
    bhttp::async_write(stream_, res,
                       [self = shared_from_this(), close, counted](beast::error_code ec, size_t) {
                         if (counted)
                           self->server_.in_flight.fetch_sub(1, std::memory_order_acq_rel);
                         self->response_.reset();
                         if (ec || close) return self->Close();
                         self->ReadHeader();
                       });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  bool keep_alive_ = true;
  bool first_request_ = true;
  unsigned version_ = 11;
};

}  // namespace

void HttpServer::Impl::Accept() {
  net::io_context& target = *contexts[next_context];
  next_context = (next_context + 1) % contexts.size();
  acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
      // Out of descriptors or memory: retrying at once would spin on the
      // same error; connections that finish meanwhile free what it needs.
      LogWarn("accept_failed", {{"error", ec.message()}});
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor->is_open()) Accept();
      });
      return;
    }
    if (open_sessions.load(std::memory_order_relaxed) >= options.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
      ++refused_since_log;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_refusal_log >= std::chrono::seconds(1)) {
        LogWarn("connections_refused",
                {{"reason", "max_connections reached"},
                 {"max_connections", std::to_string(options.max_connections)},
                 {"refused", std::to_string(refused_since_log)}});
        refused_since_log = 0;
        last_refusal_log = now;
      }
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), *this)->Start();
    }
    if (acceptor->is_open()) Accept();
  });
}

HttpServer::HttpServer(ServerOptions options, const ApiHandler* handler, ThreadPool* workers,
                       RequestObserver observer)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  const size_t io_threads = std::max<size_t>(1, impl_->options.io_threads);
  for (size_t i = 0; i < io_threads; ++i) {
    impl_->contexts.push_back(std::make_unique<net::io_context>(1));
  }
  impl_->acceptor.emplace(*impl_->contexts[0]);
  impl_->accept_retry.emplace(*impl_->contexts[0]);
  impl_->handler = handler;
  impl_->workers = workers;
  impl_->observer = std::move(observer);
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  beast::error_code ec;
  auto address = net::ip::make_address(impl_->options.host, ec);
  if (ec) return Status::InvalidArgument("bind: bad address '" + impl_->options.host + "'");
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acceptor = *impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("bind " + impl_->options.host + ":" +
                               std::to_string(impl_->options.port) + ": " + ec.message());
  }
  bound_port_ = acceptor.local_endpoint().port();
  for (auto& context : impl_->contexts) impl_->work.push_back(net::make_work_guard(*context));
  impl_->Accept();
  for (auto& context : impl_->contexts) {
    impl_->threads.emplace_back([c = context.get()] {
      // An exception out of a handler (Beast growing a buffer when memory
      // ran out) unwinds run(); that connection is dropped, the others on
      // this thread go on.
      for (;;) {
        try {
          c->run();
          return;
        } catch (const std::exception& e) {
          LogError("io_handler_failed", {{"error", e.what()}});
        }
      }
    });
  }
  return Status::Ok();
}

void HttpServer::BeginShutdown() {
  impl_->draining.store(true, std::memory_order_release);
  net::post(impl_->acceptor->get_executor(), [this] {
    beast::error_code ignored;
    impl_->acceptor->close(ignored);
  });
}

bool HttpServer::WaitIdle(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl_->in_flight.load(std::memory_order_acquire) > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->work.clear();
  for (auto& context : impl_->contexts) context->stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

}  // namespace vectord::http
