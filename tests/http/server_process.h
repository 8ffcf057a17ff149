// Test fixtures that run the real vectord binary: ServerProcess starts it on
// a free loopback port with its log captured, and stops (or kills) it;
// TestClient speaks HTTP/1.1 to it over a keep-alive connection.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/child_process.h"

namespace vectord::testing {

class ServerProcess {
 public:
  // Starts vectord with `args` (a "--bind 127.0.0.1:0" is added unless args
  // name --bind), waits until it listens and GET /ready answers 200.
  // Returns nullptr, with the log printed, if it does not come up in time.
  static std::unique_ptr<ServerProcess> Start(std::vector<std::string> args,
                                              std::map<std::string, std::string> env = {},
                                              bool wait_ready = true);
  ~ServerProcess();

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // SIGTERM, then waits; returns the exit code (128 + signal if killed by one).
  int Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGKILL, then waits.
  void Kill();
  // Waits for the process to exit by itself; nullopt on timeout.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  std::string Log() const;
  // Waits until the log holds `text` (events of work done in the background
  // after /ready); whether it did within `timeout`.
  bool WaitForLog(std::string_view text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

  // Runs the binary to completion (for config errors); returns exit code and
  // fills `log` with what it printed.
  static int RunToExit(std::vector<std::string> args, std::map<std::string, std::string> env,
                       std::string* log);

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string log_path_;
  bool running_ = false;
  int exit_code_ = 0;
};

struct HttpResult {
  int status = 0;  // 0: the connection failed
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  bool connection_closed = false;
};

class TestClient {
 public:
  explicit TestClient(uint16_t port);
  ~TestClient();
  HttpResult Request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});

 private:
  struct Connection;
  uint16_t port_;
  std::unique_ptr<Connection> connection_;
};

// A connected TCP socket to 127.0.0.1:port, or -1.
int ConnectLoopback(uint16_t port);

// Sends raw bytes on a fresh connection and returns everything the server
// writes back until it closes the connection or `timeout` passes.
std::string RawExchange(uint16_t port, const std::string& bytes,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace vectord::testing
