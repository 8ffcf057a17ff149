// S3Server: a real S3-protocol server on a loopback port for storage tests —
// the npm package s3rver (installed by scripts/install-deps.sh), serving one
// bucket from a scratch directory. It can be killed and restarted on the same
// port and directory, which is how tests make the bucket go away and return.
//
// Started with NODE_OPTIONS=--openssl-legacy-provider: under Node 20,
// s3rver's ListObjectsV2 continuation tokens fail (HTTP 500 past 1,000 keys)
// without it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "store/s3_object_store.h"
#include "support/child_process.h"

namespace vectord::testing {

class S3Server {
 public:
  // nullptr, with the reason on stderr, when s3rver is missing or does not
  // answer within 20 s.
  static std::unique_ptr<S3Server> Start(std::string bucket = "lakehouse");
  ~S3Server();

  // SIGKILL: the bucket is unreachable until Restart().
  void Stop();
  bool Restart();

  uint16_t port() const { return port_; }
  const std::string& bucket() const { return bucket_; }
  const std::string& directory() const { return directory_.path(); }
  // "http://127.0.0.1:PORT/BUCKET": vectord's storaged_url.
  std::string url() const;
  // s3rver's fixed credentials.
  static constexpr const char* kAccessKey = "S3RVER";
  static constexpr const char* kSecretKey = "S3RVER";
  // Options for an S3ObjectStore on this bucket, with short retry pauses.
  store::S3Options Options() const;
  std::string Log() const;

 private:
  S3Server() = default;
  bool Launch();

  std::string bucket_;
  TempDir directory_;
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
  std::string last_log_;
};

// Finds `program` in $PATH; empty when absent.
std::string FindOnPath(const std::string& program);

}  // namespace vectord::testing
