// Config: vectord's settings, from the lakehouse TOML file, environment
// variables and command-line flags (later sources win: defaults < file <
// environment < flags). See the configuration reference in README.md.
//
// LoadConfig never exits; main() prints the error (which names the key) and
// exits with code 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/access_control.h"

namespace vectord::http {

enum class FsyncPolicy { kAlways, kInterval };

struct Config {
  std::string config_path = "lakehouse.toml";
  bool config_path_explicit = false;

  std::string bind = "127.0.0.1:8090";
  std::string host = "127.0.0.1";  // parsed from bind
  uint16_t port = 8090;
  std::string storaged_url;  // empty: no object store
  // Object-store credentials; default to AWS_ACCESS_KEY_ID,
  // AWS_SECRET_ACCESS_KEY and AWS_REGION. Never logged.
  std::string s3_access_key;
  std::string s3_secret_key;
  std::string s3_region = "us-east-1";
  // Objects above this size (snapshots) go up as multipart uploads, in parts
  // of a quarter of it (at least S3's 5 MiB minimum).
  uint64_t s3_multipart_bytes = uint64_t{64} << 20;
  std::string data_dir = "./data";
  // Where indexes created with "vectors": "disk" keep their vector files
  // (unnamed: nothing shows in the directory). Empty: data_dir, or the
  // system's temporary directory when ephemeral.
  std::string disk_vectors_dir;
  // disk_vectors_dir, or what an empty one stands for.
  std::string DiskVectorsDirectory() const;
  bool ephemeral = false;  // no persistence at all (development)
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  uint32_t fsync_interval_ms = 100;
  uint64_t checkpoint_bytes = uint64_t{64} << 20;
  // A checkpoint is due when an index's replay estimate (the apply time of
  // its log records after the last snapshot) passes this, or its last
  // checkpoint's duration if longer: the bound on start-up replay.
  double checkpoint_replay_seconds = 10;
  // The memory the loaded indexes may hold; past it the least recently used
  // are unloaded (and load again on their next use). nullopt: half of the
  // machine's memory or of the cgroup's limit, whichever is lower; 0: no
  // limit.
  std::optional<uint64_t> memory_limit;
  std::string auth_token;  // full access; empty: none
  // Tokens limited to some indexes and an access level: the main file's
  // [[auth.tokens]], then those of auth_tokens_file (same shape). Never logged.
  std::vector<ScopedToken> auth_tokens;
  std::string auth_tokens_file;
  std::string log_level = "info";
  uint32_t workers = 0;  // 0: one per core
  // How many nice steps below the rest of the process the worker threads
  // (writes, loading) run, 0..19: above 0, searches on the io threads take
  // the cores first when both compete.
  uint32_t write_nice = 10;
  uint32_t io_threads = 0;  // 0: one per core (searches and reads run on them)
  uint32_t header_timeout_ms = 30000;
  uint32_t body_timeout_ms = 120000;
  uint32_t idle_timeout_ms = 60000;
  // Open connections beyond this are closed as soon as they are accepted, so
  // a flood of idle or slow clients cannot use up the process's descriptors.
  uint32_t max_connections = 4096;
  // The recall self-check (service/recall_monitor.h): the share of one core
  // its exact scans may use (0 turns it off), and the fraction of plain
  // searches it samples.
  double recall_cpu_budget = 0.05;
  double recall_sample_rate = 0.01;

  // Cluster mode ([cluster]; docs/cluster-protocol.md): several nodes on one
  // bucket, coordinated by etcd. Empty etcd_endpoints: a single node.
  std::vector<std::string> etcd_endpoints;  // "http://host:port"
  std::string node_id;                      // unique and stable in the cluster
  std::string advertise_url;                // how the other nodes reach this one
  uint32_t lease_ttl_ms = 5000;
  std::string cluster_key_prefix = "/vectord/";  // several clusters may share an etcd
  bool cluster_mode() const { return !etcd_endpoints.empty(); }

  // "key=value ..." with secrets masked, for the start-up log line.
  std::string Describe() const;
};

// `environment` maps variable names to values (main passes the process's).
Result<Config> LoadConfig(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& environment);

// Usage text for --help.
std::string ConfigUsage();

}  // namespace vectord::http
