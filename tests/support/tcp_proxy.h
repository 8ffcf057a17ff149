// TcpProxy: a loopback HTTP/1.1 proxy for fault injection between a client
// and a real server (S3ObjectStore and s3rver). Bytes pass through unchanged
// both ways; the proxy reads the client's requests (request line, headers,
// Content-Length body) to know where each one starts, and asks a callback
// what to do with it:
//
//   kForward    pass it on (the default);
//   kLoseReply  pass it on, wait for the server's reply (its head and its
//               Content-Length body, at most 10 s), run `while_lost`, then
//               close the client's connection without sending the reply —
//               a reply lost on the way back;
//   kAnswer     do not pass it on; send `reply` (a whole HTTP response) to
//               the client and close its connection.
//
// A request with a chunked body makes the proxy stop reading that
// connection's requests (its bytes still pass). Each client connection gets
// its own connection to the server and one thread; every wait is bounded, and
// the destructor closes every socket and joins every thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vectord::testing {

class TcpProxy {
 public:
  struct Verdict {
    enum class Action { kForward, kLoseReply, kAnswer };
    Action action = Action::kForward;
    std::function<void()> while_lost;  // kLoseReply: runs while the client waits
    std::string reply;                 // kAnswer
  };
  // Called on a proxy thread, one request at a time per connection.
  using Decide = std::function<Verdict(const std::string& request_line)>;

  // Listens on an ephemeral loopback port and forwards to 127.0.0.1:target.
  TcpProxy(uint16_t target_port, Decide decide);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }
  // Every request line seen, in arrival order.
  std::vector<std::string> RequestLines() const;

 private:
  void Accept();
  void Serve(int client);

  const uint16_t target_port_;
  const Decide decide_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  mutable std::mutex mutex_;
  std::vector<std::thread> connections_;    // guarded by mutex_
  std::vector<std::string> request_lines_;  // guarded by mutex_
};

// "HTTP/1.1 <status> ..." with an XML body, Content-Length and
// Connection: close, as TcpProxy::Verdict::reply.
std::string HttpReply(int status, const std::string& body);

}  // namespace vectord::testing
