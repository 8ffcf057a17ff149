#include "server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/child_process.h"

extern char** environ;

namespace vectord::testing {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::unique_ptr<ServerProcess> ServerProcess::Start(std::vector<std::string> args,
                                                    std::map<std::string, std::string> env,
                                                    bool wait_ready) {
  bool has_bind = false;
  for (const auto& a : args) has_bind = has_bind || a == "--bind" || a.rfind("--bind=", 0) == 0;
  if (!has_bind) {
    args.push_back("--bind");
    args.push_back("127.0.0.1:0");
  }
  std::unique_ptr<ServerProcess> p(new ServerProcess());
  char name[] = "/tmp/vectord-test-log-XXXXXX";
  int fd = mkstemp(name);
  if (fd >= 0) ::close(fd);
  p->log_path_ = name;
  p->pid_ = SpawnLogged(VECTORD_BINARY, args, env, p->log_path_);
  if (p->pid_ < 0) return nullptr;
  p->running_ = true;

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = ReadFileText(p->log_path_);
    size_t at = log.find("event=listening addr=");
    if (at != std::string::npos) {
      size_t colon = log.find(':', at + 21);
      size_t end = log.find_first_of(" \n", colon);
      if (colon != std::string::npos && end != std::string::npos) {
        p->port_ = static_cast<uint16_t>(std::stoi(log.substr(colon + 1, end - colon - 1)));
        break;
      }
    }
    if (p->WaitExit(std::chrono::milliseconds(0))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (p->port_ == 0) {
    std::fprintf(stderr, "vectord did not start; its log:\n%s\n", p->Log().c_str());
    return nullptr;
  }
  if (!wait_ready) return p;
  TestClient client(p->port_);
  while (std::chrono::steady_clock::now() < deadline) {
    if (client.Request("GET", "/ready").status == 200) return p;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::fprintf(stderr, "vectord never became ready; its log:\n%s\n", p->Log().c_str());
  return nullptr;
}

ServerProcess::~ServerProcess() {
  if (running_) Kill();
  if (!log_path_.empty()) ::unlink(log_path_.c_str());
}

std::optional<int> ServerProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (!running_) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      running_ = false;
      exit_code_ = DecodeWaitStatus(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int ServerProcess::Terminate(std::chrono::milliseconds timeout) {
  if (!running_) return exit_code_;
  ::kill(pid_, SIGTERM);
  auto code = WaitExit(timeout);
  if (!code) {
    Kill();
    return -1;
  }
  return *code;
}

void ServerProcess::Kill() {
  if (!running_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  running_ = false;
  exit_code_ = DecodeWaitStatus(status);
}

std::string ServerProcess::Log() const { return ReadFileText(log_path_); }

bool ServerProcess::WaitForLog(std::string_view text, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Log().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

int ServerProcess::RunToExit(std::vector<std::string> args, std::map<std::string, std::string> env,
                             std::string* log) {
  return RunProgram(VECTORD_BINARY, args, env, std::chrono::seconds(30), log);
}

struct TestClient::Connection {
  net::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
};

TestClient::TestClient(uint16_t port) : port_(port) {}
TestClient::~TestClient() = default;

HttpResult TestClient::Request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  HttpResult result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    if (!connection_) {
      connection_ = std::make_unique<Connection>();
      connection_->stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
      if (ec) {
        connection_.reset();
        return result;
      }
    }
    bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(method), target, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
    connection_->stream.expires_after(std::chrono::seconds(60));
    bhttp::write(connection_->stream, req, ec);
    bhttp::response<bhttp::string_body> res;
    if (!ec) bhttp::read(connection_->stream, connection_->buffer, res, ec);
    if (ec) {
      connection_.reset();  // the server may have closed a kept-alive connection: retry once
      continue;
    }
    result.status = res.result_int();
    result.body = res.body();
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[name] = std::string(field.value());
    }
    if (!res.keep_alive()) {
      result.connection_closed = true;
      connection_.reset();
    }
    return result;
  }
  return result;
}

int ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string RawExchange(uint16_t port, const std::string& bytes,
                        std::chrono::milliseconds timeout) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (e.g. after a 413)
    sent += static_cast<size_t>(n);
  }
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, 50);
    if (ready <= 0) continue;
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace vectord::testing
