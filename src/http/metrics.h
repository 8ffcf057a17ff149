// Metrics: the Prometheus series vectord exports at GET /metrics, built on
// prometheus-cpp's core registry and text serializer.
//
// Series: vectord_http_requests_total{route,code},
// vectord_http_request_duration_seconds{route} (histogram), vectord_indexes,
// vectord_index_items{index}, vectord_snapshots_total,
// vectord_snapshot_failures_total, vectord_snapshot_bytes_total,
// vectord_snapshot_last_seconds.
//
// Thread safety: ObserveRequest and Render may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "service/index_registry.h"
#include "service/snapshot_persister.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace vectord::http {

class Metrics {
 public:
  Metrics();
  ~Metrics();

  void ObserveRequest(const std::string& route, int status, double seconds);
  // Refreshes the gauges from the registry and persister (may be null), then
  // renders every series in the Prometheus text format.
  std::string Render(const service::Registry& registry,
                     const service::SnapshotPersister* persister);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Gauge* indexes_;
  prometheus::Family<prometheus::Gauge>* items_;
  prometheus::Counter* snapshots_;
  prometheus::Counter* snapshot_failures_;
  prometheus::Counter* snapshot_bytes_;
  prometheus::Gauge* snapshot_last_seconds_;

  std::mutex render_mutex_;
  std::map<std::string, prometheus::Gauge*> item_gauges_;  // guarded by render_mutex_
  service::PersisterStats counted_;                        // guarded by render_mutex_
};

}  // namespace vectord::http
