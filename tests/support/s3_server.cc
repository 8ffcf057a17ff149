#include "support/s3_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace vectord::testing {
namespace {

bool Listening(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

std::unique_ptr<S3Server> S3Server::Start(std::string bucket) {
  std::unique_ptr<S3Server> server(new S3Server());
  server->bucket_ = std::move(bucket);
  server->port_ = FreeLoopbackPort();
  if (!server->Launch()) return nullptr;
  return server;
}

bool S3Server::Launch() {
  const std::string program = FindOnPath("s3rver");
  if (program.empty()) {
    std::fprintf(stderr, "s3rver not found in PATH: run scripts/install-deps.sh\n");
    return false;
  }
  process_ = ChildProcess::Start(program,
                                 {"-d", directory_.path(), "-a", "127.0.0.1", "-p",
                                  std::to_string(port_), "--configure-bucket", bucket_, "--silent"},
                                 {{"NODE_OPTIONS", "--openssl-legacy-provider"}});
  if (!process_) {
    std::fprintf(stderr, "cannot start %s\n", program.c_str());
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Listening(port_)) return true;
    if (process_->Exited()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "s3rver did not come up on port %u:\n%s\n", port_,
               process_->Output().c_str());
  process_.reset();
  return false;
}

S3Server::~S3Server() { Stop(); }

void S3Server::Stop() {
  if (!process_) return;
  last_log_ = process_->Output();
  process_->Kill();
  process_.reset();
}

bool S3Server::Restart() {
  Stop();
  return Launch();
}

std::string S3Server::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + bucket_;
}

store::S3Options S3Server::Options() const {
  store::S3Options options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(port_);
  options.bucket = bucket_;
  options.access_key = kAccessKey;
  options.secret_key = kSecretKey;
  options.backoff_base = std::chrono::milliseconds(10);
  options.backoff_max = std::chrono::milliseconds(100);
  return options;
}

std::string S3Server::Log() const { return process_ ? process_->Output() : last_log_; }

}  // namespace vectord::testing
