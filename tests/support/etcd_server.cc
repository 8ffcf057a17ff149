#include "support/etcd_server.h"

#include <cstdio>
#include <thread>

#include "store/etcd_client.h"
#include "support/s3_server.h"  // FindOnPath

namespace vectord::testing {

std::unique_ptr<EtcdServer> EtcdServer::Start() {
  std::unique_ptr<EtcdServer> server(new EtcdServer());
  server->client_port_ = FreeLoopbackPort();
  server->peer_port_ = FreeLoopbackPort();
  if (!server->Launch()) return nullptr;
  return server;
}

bool EtcdServer::Launch() {
  const std::string program = FindOnPath("etcd");
  if (program.empty()) {
    std::fprintf(stderr, "etcd not found in PATH: run scripts/install-deps.sh\n");
    return false;
  }
  const std::string client = endpoint();
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  process_ = ChildProcess::Start(
      program, {"--name", "test", "--data-dir", directory_.path() + "/data", "--listen-client-urls",
                client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer, "--initial-cluster", "test=" + peer,
                "--log-level", "warn"});
  if (!process_) {
    std::fprintf(stderr, "cannot start %s\n", program.c_str());
    return false;
  }
  store::EtcdOptions options;
  options.endpoints = {client};
  options.request_timeout = std::chrono::milliseconds(500);
  store::EtcdClient probe(options);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe.Get("/probe").ok()) return true;
    if (process_->Exited()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "etcd did not come up on port %u:\n%s\n", client_port_,
               process_->Output().c_str());
  process_.reset();
  return false;
}

EtcdServer::~EtcdServer() { Stop(); }

void EtcdServer::Stop() {
  if (!process_) return;
  last_log_ = process_->Output();
  process_->Kill();
  process_.reset();
}

bool EtcdServer::Restart() {
  Stop();
  return Launch();
}

std::string EtcdServer::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(client_port_);
}

std::string EtcdServer::Log() const { return process_ ? process_->Output() : last_log_; }

}  // namespace vectord::testing
