// HttpServer: HTTP/1.1 with keep-alive on Boost.Beast/Asio, feeding parsed
// requests to an ApiHandler.
//
// A few io threads (one per core by default), each running its own
// io_context, do all socket work asynchronously; accepted connections are
// dealt round-robin to them and stay there, so a connection's handlers need
// no strand and a completion never wakes another thread. Short requests that
// never wait on disk (searches, reads: the route table says which, see
// ApiHandler::RunsInline) are answered right on the io thread, which spares
// them the two thread switches of a round trip through a worker, a large
// share of a short search (the price: a search delays the other connections
// of its io thread). Writes run on the ThreadPool, since they may wait on
// fsync. Limits: the body cap is answered with 413 from Content-Length
// before the body is read (and while streaming when there is none), then the
// connection closes; malformed requests get 400 and a close; header, body
// and idle timeouts drop slow or silent clients.
// TCP_NODELAY is set and each response goes out in one write.
//
// Thread safety: Start, BeginShutdown, WaitIdle and Stop are for the owning
// thread; the server's own callbacks run on its io threads and the pool.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "http/api_handler.h"

namespace vectord::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8090;  // 0: any free port (see HttpServer::port())
  size_t io_threads = 1;
  size_t body_limit = size_t{64} << 20;
  size_t header_limit = size_t{64} << 10;
  std::chrono::milliseconds header_timeout{30000};
  std::chrono::milliseconds body_timeout{120000};
  std::chrono::milliseconds idle_timeout{60000};
  // Connections accepted while this many are open are closed at once.
  size_t max_connections = 4096;
};

// Called once per answered request, on a worker or io thread.
using RequestObserver =
    std::function<void(const HttpRequest& request, const HttpResponse& response, double seconds)>;

class HttpServer {
 public:
  HttpServer(ServerOptions options, const ApiHandler* handler, ThreadPool* workers,
             RequestObserver observer);
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the io threads.
  Status Start();
  // The port actually bound (useful with port 0).
  uint16_t port() const { return bound_port_; }
  // Stops accepting; connections close after their current response.
  void BeginShutdown();
  // Waits until no request is in flight, or the timeout passes. True if idle.
  bool WaitIdle(std::chrono::milliseconds timeout);
  // Stops the io threads; open connections are dropped.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  uint16_t bound_port_ = 0;
};

}  // namespace vectord::http
