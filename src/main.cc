// vectord: the vector-search service of the lakehouse. Wires the layers
// together: config -> storage -> registry -> HTTP server, then
// waits for SIGINT/SIGTERM and shuts down gracefully (stop accepting, finish
// in-flight requests, write every pending snapshot, exit 0).
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/thread_pool.h"
#include "http/api_handler.h"
#include "http/config.h"
#include "http/http_server.h"
#include "http/metrics.h"
#include "http/request_forwarder.h"
#include "service/bucket_mirror.h"
#include "service/cluster_coordinator.h"
#include "service/cluster_membership.h"
#include "service/index_registry.h"
#include "service/index_storage.h"
#include "store/etcd_client.h"
#include "store/file_system.h"
#include "store/local_object_store.h"
#include "store/s3_object_store.h"

extern char** environ;

namespace vectord {
namespace {

// Half of the machine's memory, or of the cgroup's limit when that is
// lower: what [vectord] memory_limit means when it is not set.
uint64_t DefaultMemoryLimit() {
  uint64_t total = 0;
  if (FILE* meminfo = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, meminfo) != nullptr) {
      unsigned long long kib = 0;
      if (std::sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
        total = uint64_t{kib} * 1024;
        break;
      }
    }
    std::fclose(meminfo);
  }
  // cgroup v2, then v1; "max" or a huge v1 figure means none.
  for (const char* path :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    if (FILE* limit = std::fopen(path, "r")) {
      unsigned long long bytes = 0;
      if (std::fscanf(limit, "%llu", &bytes) == 1 && bytes > 0 && (total == 0 || bytes < total)) {
        total = bytes;
      }
      std::fclose(limit);
      break;
    }
  }
  return total / 2;
}

LogLevel ParseLevel(const std::string& name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

Result<std::unique_ptr<store::S3ObjectStore>> OpenBucket(const http::Config& config) {
  store::S3Options s3;
  (void)store::ParseStorageUrl(config.storaged_url, &s3);  // checked by LoadConfig
  s3.access_key = config.s3_access_key;
  s3.secret_key = config.s3_secret_key;
  s3.region = config.s3_region;
  s3.multipart_threshold = config.s3_multipart_bytes;
  s3.part_bytes = std::max<uint64_t>(uint64_t{5} << 20, config.s3_multipart_bytes / 4);
  return store::S3ObjectStore::Open(std::move(s3));
}

int Run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help" || a == "-help") {
      std::fputs(http::ConfigUsage().c_str(), stdout);
      return 0;
    }
  }
  std::map<std::string, std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq != nullptr)
      environment.emplace(std::string(*e, static_cast<size_t>(eq - *e)), std::string(eq + 1));
  }
  auto config = http::LoadConfig(args, environment);
  if (!config.ok()) {
    std::fprintf(stderr, "vectord: %s\n", config.status().message().c_str());
    return 2;
  }
  SetLogLevel(ParseLevel(config->log_level));

  // Signals are taken by sigwait below; block them before any thread starts
  // so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  LogInfo("starting", {{"config", config->Describe()}});

  // Writers wait on fsync inside a worker; twice the cores keeps searches
  // flowing while they do.
  ThreadPool workers(config->workers != 0 ? config->workers
                                          : 2 * std::max(1u, std::thread::hardware_concurrency()),
                     static_cast<int>(config->write_nice));
  // Declared before the registry so that they outlive it: the indexes' log
  // shippers use the bucket until the registry (and its indexes) are gone.
  std::unique_ptr<store::LocalObjectStore> object_store;
  std::unique_ptr<store::S3ObjectStore> bucket_store;
  std::unique_ptr<service::BucketMirror> mirror;
  service::Registry registry(&workers);
  registry.SetRecallSampleRate(config->recall_cpu_budget > 0 ? config->recall_sample_rate : 0);
  const std::string vector_directory = config->DiskVectorsDirectory();
  {
    std::error_code error;
    std::filesystem::create_directories(vector_directory, error);
    if (error) {
      LogError("disk_vectors_dir_failed",
               {{"disk_vectors_dir", vector_directory}, {"error", error.message()}});
      return 1;
    }
  }
  registry.SetVectorDirectory(vector_directory);
  std::unique_ptr<service::IndexStorage> storage;
  // Cluster mode (docs/cluster-protocol.md): the bucket and etcd hold every
  // index; this node keeps replicas in memory and no local files.
  std::unique_ptr<store::EtcdClient> etcd;
  std::unique_ptr<service::ClusterMembership> membership;
  std::unique_ptr<service::ClusterCoordinator> cluster;
  std::unique_ptr<http::RequestForwarder> forwarder;
  if (config->cluster_mode()) {
    auto bucket = OpenBucket(*config);
    if (!bucket.ok()) {
      LogError("object_store_failed", {{"error", bucket.status().ToString()}});
      return 1;
    }
    bucket_store = std::move(bucket).value();
    store::EtcdOptions etcd_options;
    etcd_options.endpoints = config->etcd_endpoints;
    etcd = std::make_unique<store::EtcdClient>(etcd_options);
    service::MembershipOptions membership_options;
    membership_options.node_id = config->node_id;
    membership_options.advertise_url = config->advertise_url;
    membership_options.key_prefix = config->cluster_key_prefix;
    membership_options.storaged_url = config->storaged_url;
    membership_options.lease_ttl = std::chrono::milliseconds(config->lease_ttl_ms);
    membership = std::make_unique<service::ClusterMembership>(etcd.get(), membership_options);
    service::CoordinatorOptions cluster_options;
    cluster_options.node_id = config->node_id;
    cluster_options.advertise_url = config->advertise_url;
    cluster_options.key_prefix = config->cluster_key_prefix;
    cluster_options.snapshot_bytes = config->checkpoint_bytes;
    cluster = std::make_unique<service::ClusterCoordinator>(
        etcd.get(), membership.get(), bucket_store.get(), &registry, cluster_options);
    forwarder = std::make_unique<http::RequestForwarder>(config->node_id, std::chrono::seconds(60));
    LogInfo("cluster", {{"node", config->node_id},
                        {"etcd", etcd->Describe()},
                        {"store", bucket_store->Describe()}});
  } else if (!config->ephemeral) {
    auto opened = store::LocalObjectStore::OpenRoot(config->data_dir, /*sync=*/true);
    if (!opened.ok()) {
      LogError("storage_failed",
               {{"data_dir", config->data_dir}, {"error", opened.status().ToString()}});
      return 1;
    }
    object_store = std::move(opened).value();
    service::StorageOptions options;
    options.data_dir = config->data_dir;
    options.vector_directory = vector_directory;
    options.fsync_always = config->fsync == http::FsyncPolicy::kAlways;
    options.fsync_interval = std::chrono::milliseconds(config->fsync_interval_ms);
    options.checkpoint_bytes = config->checkpoint_bytes;
    options.checkpoint_replay_seconds = config->checkpoint_replay_seconds;
    // /ready must not wait for a listing of every index in the bucket.
    options.list_bucket_after_start = true;
    // A quarter of the descriptors for log segments, the rest for
    // connections, snapshots and the bucket's sockets.
    if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
      options.max_open_log_files =
          static_cast<size_t>(std::clamp<rlim_t>(files.rlim_cur / 4, 16, 1024));
    }
    LogInfo("log_files", {{"max_open", std::to_string(options.max_open_log_files)}});
    if (!config->storaged_url.empty()) {
      auto bucket = OpenBucket(*config);
      if (!bucket.ok()) {
        LogError("object_store_failed", {{"error", bucket.status().ToString()}});
        return 1;
      }
      bucket_store = std::move(bucket).value();
      mirror = std::make_unique<service::BucketMirror>(bucket_store.get(), object_store.get());
      LogInfo("object_store", {{"store", bucket_store->Describe()}});
    }
    storage = std::make_unique<service::IndexStorage>(object_store.get(), options, mirror.get());
  } else {
    LogWarn("ephemeral", {{"note", "no persistence: every index is lost at exit"}});
  }

  std::atomic<bool> ready{false};
  // Cluster mode: why this node has not joined (for /ready).
  std::mutex join_mutex;
  std::string join_error;
  http::Metrics metrics;
  http::ApiOptions api_options;
  api_options.auth_token = config->auth_token;
  api_options.scoped_tokens = config->auth_tokens;
  api_options.cluster = cluster.get();
  api_options.forwarder = forwarder.get();
  if (membership) {
    api_options.not_ready_reason = [&] {
      std::lock_guard lock(join_mutex);
      if (!join_error.empty()) return "not in the cluster: " + join_error;
      return cluster->starting().message();
    };
  }
  http::ApiHandler handler(&registry, std::move(api_options), &ready,
                           [&] { return metrics.Render(registry, storage.get(), cluster.get()); });
  std::atomic<uint64_t> request_ids{0};
  auto observe = [&](const http::HttpRequest& request, const http::HttpResponse& response,
                     double seconds) {
    metrics.ObserveRequest(response.route, response.status, seconds);
    LogInfo("request", {{"id", request_ids.fetch_add(1) + 1},
                        {"method", request.method},
                        {"path", request.path},
                        {"route", response.route},
                        {"status", response.status},
                        {"ms", seconds * 1000.0}});
  };
  http::ServerOptions server_options;
  server_options.host = config->host;
  server_options.port = config->port;
  // Searches and reads run on the I/O threads (see ApiHandler::RunsInline),
  // so there is one per core unless configured.
  server_options.io_threads = config->io_threads != 0
                                  ? config->io_threads
                                  : std::max(1u, std::thread::hardware_concurrency());
  server_options.header_timeout = std::chrono::milliseconds(config->header_timeout_ms);
  server_options.max_connections = config->max_connections;
  server_options.body_timeout = std::chrono::milliseconds(config->body_timeout_ms);
  server_options.idle_timeout = std::chrono::milliseconds(config->idle_timeout_ms);
  http::HttpServer server(server_options, &handler, &workers, observe);
  Status started = server.Start();
  if (!started.ok()) {
    LogError("listen_failed", {{"error", started.ToString()}});
    return 1;
  }
  LogInfo("listening", {{"addr", config->host + ":" + std::to_string(server.port())}});

  // Start-up may wait for an unreachable bucket; a SIGTERM or SIGINT that
  // arrives meanwhile ends the wait (and the process).
  int early_signal = 0;
  auto keep_trying = [&] {
    if (early_signal != 0) return false;  // sticky: every later wait gives up too
    timespec no_wait{};
    const int pending = sigtimedwait(&signals, nullptr, &no_wait);
    if (pending > 0) early_signal = pending;
    return pending <= 0;
  };
  if (storage) {
    // Indexes load on first use: start-up only lists them, so its time does
    // not grow with their number (docs/design/many-indexes.md).
    registry.SetPersistence(storage.get());
    auto report = storage->Survey(registry, keep_trying);
    if (early_signal != 0) {
      LogInfo("stopped", {{"signal", early_signal}, {"note", "during start-up"}});
      server.Stop();
      return 0;
    }
    storage->Start();
    const uint64_t memory_limit = config->memory_limit.value_or(DefaultMemoryLimit());
    registry.StartUnloading(memory_limit);
    // With a bucket every index is loaded once, to make disk and bucket
    // agree on it (an index written while the bucket was away is uploaded),
    // once the bucket is listed; without one, until three quarters of the
    // limit are in use.
    if (storage->has_object_store()) {
      storage->StartBucketListing(registry, [&registry](std::vector<std::string> names) {
        registry.StartBackgroundLoading(std::move(names), 0);
      });
    } else {
      registry.StartBackgroundLoading(std::move(report.names), memory_limit / 4 * 3);
    }
    LogInfo("rehydrate_done", {{"indexes", report.indexes},
                               {"failed", report.failed},
                               {"memory_limit", memory_limit},
                               {"note", "indexes load on first use"}});
  }
  if (cluster) {
    // Joining is refused (and /ready says why) for a node id in use or a
    // bucket other than the cluster's; etcd being down is waited out.
    Status joined = membership->Join();
    while (!joined.ok()) {
      LogWarn("cluster_join_failed", {{"error", joined.message()}});
      {
        std::lock_guard lock(join_mutex);
        join_error = joined.message();
      }
      if (!keep_trying()) break;
      std::this_thread::sleep_for(std::chrono::seconds(1));
      joined = membership->Join();
    }
    if (joined.ok()) {
      std::lock_guard lock(join_mutex);
      join_error.clear();
    }
    Status started_cluster = joined.ok() ? cluster->Start(keep_trying) : joined;
    if (early_signal != 0 || !started_cluster.ok()) {
      LogInfo("stopped", {{"signal", early_signal}, {"note", "during start-up"}});
      cluster->Stop();
      server.Stop();
      return 0;
    }
    registry.SetPersistence(cluster.get());
  }
  ready.store(true, std::memory_order_release);
  LogInfo("ready", {{"indexes", registry.count()}});
  service::RecallMonitorOptions recall_options;
  recall_options.cpu_budget = config->recall_cpu_budget;
  service::RecallMonitor recall_monitor(registry, recall_options);
  recall_monitor.Start();

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  LogInfo("shutting_down", {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  server.BeginShutdown();
  if (!server.WaitIdle(std::chrono::seconds(30))) {
    LogWarn("shutdown_timeout", {{"note", "requests still in flight after 30 s"}});
  }
  server.Stop();
  recall_monitor.Stop();
  // First: when it finishes, the listing starts the background loading.
  if (storage) storage->StopBucketListing();
  registry.StopBackground();
  // The writer key goes with the membership lease, revoked here: another
  // node takes over at once instead of after the lease.
  if (cluster) cluster->Stop();
  membership.reset();
  int exit_code = 0;
  if (storage) {
    storage->Stop();
    // Every acknowledged write is already in a log; the final checkpoint only
    // makes the next start-up fast.
    Status saved = storage->CheckpointAll();
    if (!saved.ok()) {
      LogError("final_checkpoint_failed", {{"error", saved.ToString()}});
      exit_code = 1;
    }
  }
  LogInfo("stopped", {{"exit_code", exit_code}});
  return exit_code;
}

}  // namespace
}  // namespace vectord

int main(int argc, char** argv) { return vectord::Run(argc, argv); }
