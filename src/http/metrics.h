// Metrics: the Prometheus series vectord exports at GET /metrics, built on
// prometheus-cpp's core registry and text serializer.
//
// Series: vectord_http_requests_total{route,code},
// vectord_http_request_duration_seconds{route} (histogram), vectord_indexes,
// vectord_index_items{index}, vectord_index_recall_at_10{index},
// vectord_index_recall_ci95{index}, vectord_index_recall_samples{index},
// vectord_index_log_replay_estimate_seconds{index} and
// vectord_index_log_replay_budget_seconds{index} (with storage),
// vectord_checkpoints_total, vectord_checkpoint_failures_total,
// vectord_snapshot_bytes_total, vectord_checkpoint_last_seconds,
// vectord_wal_replayed_records_total.
//
// Thread safety: ObserveRequest and Render may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "service/index_registry.h"
#include "service/index_storage.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace vectord::service {
class ClusterCoordinator;
}  // namespace vectord::service

namespace vectord::http {

class Metrics {
 public:
  Metrics();
  ~Metrics();

  void ObserveRequest(const std::string& route, int status, double seconds);
  // Refreshes the gauges from the registry and persister (may be null), then
  // renders every series in the Prometheus text format.
  // `cluster` (may be null): cluster mode's replica lag and writer term.
  std::string Render(const service::Registry& registry, const service::IndexStorage* storage,
                     const service::ClusterCoordinator* cluster = nullptr);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Gauge* indexes_;
  prometheus::Family<prometheus::Gauge>* items_;
  prometheus::Family<prometheus::Gauge>* recall_;
  prometheus::Family<prometheus::Gauge>* recall_ci95_;
  prometheus::Family<prometheus::Gauge>* recall_samples_;
  prometheus::Family<prometheus::Gauge>* replay_estimate_;
  prometheus::Family<prometheus::Gauge>* replay_budget_;
  prometheus::Family<prometheus::Gauge>* load_failed_;
  prometheus::Family<prometheus::Gauge>* applied_sequence_;
  // Registered only in cluster mode.
  prometheus::Family<prometheus::Gauge>* replica_lag_ = nullptr;
  prometheus::Gauge* writer_term_ = nullptr;
  prometheus::Counter* checkpoints_;
  prometheus::Counter* checkpoint_failures_;
  prometheus::Counter* snapshot_bytes_;
  prometheus::Counter* replayed_records_;
  prometheus::Gauge* checkpoint_last_seconds_;
  prometheus::Gauge* checkpoint_longest_seconds_;
  prometheus::Gauge* open_log_files_;
  prometheus::Counter* parked_log_files_;
  // Registered only with an object store.
  prometheus::Counter* segment_uploads_ = nullptr;
  prometheus::Counter* segment_upload_bytes_ = nullptr;
  prometheus::Counter* segment_upload_failures_ = nullptr;
  prometheus::Counter* snapshot_uploads_ = nullptr;
  prometheus::Gauge* pending_records_ = nullptr;
  // Loading on first use and unloading (registered at the first render).
  prometheus::Counter* loads_ = nullptr;
  prometheus::Counter* load_failures_ = nullptr;
  prometheus::Counter* evictions_ = nullptr;
  prometheus::Gauge* loaded_indexes_ = nullptr;
  prometheus::Gauge* loaded_bytes_ = nullptr;
  prometheus::Gauge* memory_limit_ = nullptr;
  prometheus::Histogram* load_seconds_ = nullptr;

  std::mutex render_mutex_;
  struct IndexGauges {
    prometheus::Gauge* items = nullptr;
    prometheus::Gauge* recall = nullptr;
    prometheus::Gauge* recall_ci95 = nullptr;
    prometheus::Gauge* recall_samples = nullptr;
    prometheus::Gauge* replay_estimate = nullptr;  // with storage only
    prometheus::Gauge* replay_budget = nullptr;
    prometheus::Gauge* applied_sequence = nullptr;
    prometheus::Gauge* replica_lag = nullptr;  // in cluster mode only
  };
  std::map<std::string, IndexGauges> index_gauges_;  // guarded by render_mutex_
  // 1 for every index whose stored copy failed to load; guarded by render_mutex_
  std::map<std::string, prometheus::Gauge*> failed_gauges_;
  service::StorageStats counted_;          // guarded by render_mutex_
  service::LoadingStats loading_counted_;  // guarded by render_mutex_

  void RenderLoading(const service::LoadingStats& stats);  // under render_mutex_
};

}  // namespace vectord::http
