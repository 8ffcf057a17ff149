// EtcdServer: a real etcd (Debian's etcd-server, installed by
// scripts/install-deps.sh) on free loopback ports with its data in a scratch
// directory, for cluster and coordination tests. Never the system etcd on
// 2379. It can be killed and restarted on the same ports and data, which is
// how tests make etcd go away and come back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "support/child_process.h"

namespace vectord::testing {

class EtcdServer {
 public:
  // nullptr, with the reason on stderr, when etcd is missing or does not
  // answer within 20 s.
  static std::unique_ptr<EtcdServer> Start();
  ~EtcdServer();

  // SIGKILL: etcd is unreachable until Restart().
  void Stop();
  bool Restart();

  // "http://127.0.0.1:PORT": a client endpoint.
  std::string endpoint() const;
  std::string Log() const;

 private:
  EtcdServer() = default;
  bool Launch();

  TempDir directory_;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
  std::string last_log_;
};

}  // namespace vectord::testing
