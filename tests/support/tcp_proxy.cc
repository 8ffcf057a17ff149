#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace vectord::testing {
namespace {

constexpr auto kReplyWait = std::chrono::seconds(10);
constexpr size_t kMaxHeadBytes = 64 * 1024;

int ConnectLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends bounded by the socket's send timeout; false when the peer is gone.
bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void SetSendTimeout(int fd) {
  timeval timeout{};
  timeout.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kReplyWait).count();
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

// The Content-Length of a message head (0 when absent).
uint64_t ContentLength(const std::string& lower_head) {
  const size_t at = lower_head.find("\r\ncontent-length:");
  if (at == std::string::npos) return 0;
  return std::strtoull(lower_head.c_str() + at + 17, nullptr, 10);
}

bool Chunked(const std::string& lower_head) {
  const size_t at = lower_head.find("\r\ntransfer-encoding:");
  return at != std::string::npos &&
         lower_head.find("chunked", at) < lower_head.find("\r\n", at + 2);
}

// Whether `reply` holds a whole HTTP response.
bool WholeReply(const std::string& reply) {
  const size_t head_end = reply.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  const std::string head = Lower(std::string_view(reply).substr(0, head_end));
  if (Chunked(head))
    return reply.size() >= 5 && reply.compare(reply.size() - 5, 5, "0\r\n\r\n") == 0;
  return reply.size() - head_end - 4 >= ContentLength(head);
}

}  // namespace

std::string HttpReply(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " Injected\r\nContent-Type: application/xml\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

TcpProxy::TcpProxy(uint16_t target_port, Decide decide)
    : target_port_(target_port), decide_(std::move(decide)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  ::listen(listen_fd_, 16);
  accept_thread_ = std::thread([this] { Accept(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  accept_thread_.join();
  // No new connections now; each one notices stopping_ within a poll.
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(mutex_);
    connections.swap(connections_);
  }
  for (std::thread& connection : connections) connection.join();
}

std::vector<std::string> TcpProxy::RequestLines() const {
  std::lock_guard lock(mutex_);
  return request_lines_;
}

void TcpProxy::Accept() {
  while (!stopping_) {
    const int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) return;
    std::lock_guard lock(mutex_);
    connections_.emplace_back([this, client] { Serve(client); });
  }
}

void TcpProxy::Serve(int client) {
  const int server = ConnectLoopback(target_port_);
  if (server < 0) {
    ::close(client);
    return;
  }
  SetSendTimeout(client);
  SetSendTimeout(server);

  std::string pending;     // client bytes not yet parsed
  uint64_t body_left = 0;  // of the current request
  bool opaque = false;     // stopped reading requests: pass everything
  bool answering = false;  // kAnswer: swallow the body, then reply
  bool losing = false;     // kLoseReply: the server's reply goes nowhere
  Verdict verdict;
  std::string lost_reply;
  auto lose_deadline = std::chrono::steady_clock::time_point::max();

  // Parses and passes on what the client sent; false ends the connection.
  auto from_client = [&]() -> bool {
    while (!pending.empty()) {
      if (opaque) {
        if (!SendAll(server, pending)) return false;
        pending.clear();
      } else if (body_left > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(body_left, pending.size()));
        if (!answering && !SendAll(server, std::string_view(pending).substr(0, n))) return false;
        pending.erase(0, n);
        body_left -= n;
      } else {
        const size_t head_end = pending.find("\r\n\r\n");
        if (head_end == std::string::npos) {
          if (pending.size() > kMaxHeadBytes) opaque = true;
          if (!opaque) return true;
          continue;
        }
        const std::string head = pending.substr(0, head_end + 4);
        pending.erase(0, head.size());
        const std::string lower = Lower(head);
        const std::string line = head.substr(0, head.find("\r\n"));
        {
          std::lock_guard lock(mutex_);
          request_lines_.push_back(line);
        }
        verdict = decide_(line);
        body_left = ContentLength(lower);
        if (Chunked(lower)) opaque = true;
        answering = verdict.action == Verdict::Action::kAnswer;
        losing = verdict.action == Verdict::Action::kLoseReply;
        if (!answering && !SendAll(server, head)) return false;
      }
      if (body_left == 0 && answering) {
        (void)SendAll(client, verdict.reply);
        return false;
      }
      if (body_left == 0 && losing) lose_deadline = std::chrono::steady_clock::now() + kReplyWait;
    }
    return true;
  };

  char buffer[64 * 1024];
  while (!stopping_) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    const int ready = ::poll(fds, 2, 100);
    if (ready < 0) break;
    if (losing && (WholeReply(lost_reply) || std::chrono::steady_clock::now() > lose_deadline)) {
      if (verdict.while_lost) verdict.while_lost();
      break;  // the client's connection closes with its reply unsent
    }
    if (ready == 0) continue;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      pending.append(buffer, static_cast<size_t>(n));
      if (!from_client()) break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(server, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        if (losing && verdict.while_lost) verdict.while_lost();
        break;
      }
      if (losing) {
        lost_reply.append(buffer, static_cast<size_t>(n));
      } else if (!SendAll(client, std::string_view(buffer, static_cast<size_t>(n)))) {
        break;
      }
    }
  }
  ::close(server);
  ::close(client);
}

}  // namespace vectord::testing
