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

extern char** environ;

namespace vectord::testing {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

pid_t Spawn(const std::string& program, const std::vector<std::string>& args,
            const std::map<std::string, std::string>& env, const std::string& log_path) {
  std::vector<std::string> argv_storage = {program};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    std::string name(*e, static_cast<size_t>(eq - *e));
    if (name.rfind("VECTORD_", 0) == 0) continue;  // tests set their own
    merged[name] = eq + 1;
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : merged) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

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
  p->pid_ = Spawn(VECTORD_BINARY, args, env, p->log_path_);
  if (p->pid_ < 0) return nullptr;
  p->running_ = true;

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = ReadFile(p->log_path_);
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

std::string ServerProcess::Log() const { return ReadFile(log_path_); }

int ServerProcess::RunToExit(std::vector<std::string> args, std::map<std::string, std::string> env,
                             std::string* log) {
  return RunProgram(VECTORD_BINARY, args, env, std::chrono::seconds(30), log);
}

int RunProgram(const std::string& program, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env, std::chrono::milliseconds timeout,
               std::string* output) {
  char name[] = "/tmp/vectord-test-log-XXXXXX";
  int fd = mkstemp(name);
  if (fd >= 0) ::close(fd);
  pid_t pid = Spawn(program, args, env, name);
  if (pid < 0) {
    *output = "cannot start " + program;
    ::unlink(name);
    return -1;
  }
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int code = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      code = DecodeWaitStatus(status);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (code == -1) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  *output = ReadFile(name);
  ::unlink(name);
  return code;
}

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::string& program,
                                                  const std::vector<std::string>& args) {
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  char name[] = "/tmp/vectord-test-child-XXXXXX";
  int fd = mkstemp(name);
  if (fd >= 0) ::close(fd);
  child->log_path_ = name;
  child->pid_ = Spawn(program, args, {}, child->log_path_);
  if (child->pid_ < 0) return nullptr;
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ::unlink(log_path_.c_str());
}

std::string ChildProcess::Output() const { return ReadFile(log_path_); }

uint16_t FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
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

std::string RawExchange(uint16_t port, const std::string& bytes,
                        std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
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

TempDir::TempDir() {
  char name[] = "/tmp/vectord-test-XXXXXX";
  path_ = ::mkdtemp(name);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace vectord::testing
