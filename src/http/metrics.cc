#include "http/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <set>

#include "service/cluster_coordinator.h"

namespace vectord::http {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("vectord_http_requests_total")
                   .Help("HTTP requests answered, by route template and status code")
                   .Register(*registry_);
  latency_ = &prometheus::BuildHistogram()
                  .Name("vectord_http_request_duration_seconds")
                  .Help("Time from a request's last byte read to its response, by route")
                  .Register(*registry_);
  indexes_ = &prometheus::BuildGauge()
                  .Name("vectord_indexes")
                  .Help("Number of indexes")
                  .Register(*registry_)
                  .Add({});
  items_ = &prometheus::BuildGauge()
                .Name("vectord_index_items")
                .Help("Live items per index")
                .Register(*registry_);
  recall_ = &prometheus::BuildGauge()
                 .Name("vectord_index_recall_at_10")
                 .Help(
                     "Recall@10 estimated by the self-check over its recent samples (NaN before "
                     "the first)")
                 .Register(*registry_);
  recall_ci95_ = &prometheus::BuildGauge()
                      .Name("vectord_index_recall_ci95")
                      .Help("Half-width of the recall estimate's 95% confidence interval")
                      .Register(*registry_);
  recall_samples_ = &prometheus::BuildGauge()
                         .Name("vectord_index_recall_samples")
                         .Help("Samples behind the recall estimate")
                         .Register(*registry_);
  applied_sequence_ =
      &prometheus::BuildGauge()
           .Name("vectord_index_applied_sequence")
           .Help("The last log record (cluster: commit) applied to the index on this node")
           .Register(*registry_);
  replay_estimate_ =
      &prometheus::BuildGauge()
           .Name("vectord_index_log_replay_estimate_seconds")
           .Help(
               "Time the index's log records after its last snapshot took to apply: about what a "
               "restart spends replaying them")
           .Register(*registry_);
  replay_budget_ = &prometheus::BuildGauge()
                        .Name("vectord_index_log_replay_budget_seconds")
                        .Help(
                            "Replay estimate at which the index is checkpointed: "
                            "max(checkpoint_replay_seconds, its last checkpoint's duration)")
                        .Register(*registry_);
  load_failed_ = &prometheus::BuildGauge()
                      .Name("vectord_index_load_failed")
                      .Help(
                          "1 for an index whose stored copy failed to load at start-up (GET "
                          "/vectors/index names the reason); gone once it is deleted")
                      .Register(*registry_);
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  checkpoints_ =
      counter("vectord_checkpoints_total", "Checkpoints (snapshot + log cut) since start");
  checkpoint_failures_ = counter("vectord_checkpoint_failures_total", "Checkpoints that failed");
  snapshot_bytes_ = counter("vectord_snapshot_bytes_total", "Bytes written by snapshots");
  replayed_records_ =
      counter("vectord_wal_replayed_records_total", "Write-ahead-log records replayed at start");
  checkpoint_last_seconds_ = &prometheus::BuildGauge()
                                  .Name("vectord_checkpoint_last_seconds")
                                  .Help("Duration of the last checkpoint")
                                  .Register(*registry_)
                                  .Add({});
  checkpoint_longest_seconds_ = &prometheus::BuildGauge()
                                     .Name("vectord_checkpoint_longest_seconds")
                                     .Help("Duration of the longest checkpoint since start")
                                     .Register(*registry_)
                                     .Add({});
  open_log_files_ = &prometheus::BuildGauge()
                         .Name("vectord_wal_open_files")
                         .Help("Write-ahead-log segments open now (bounded across all indexes)")
                         .Register(*registry_)
                         .Add({});
  parked_log_files_ = counter("vectord_wal_file_closes_total",
                              "Idle write-ahead-log segments closed to keep descriptors bounded");
}

Metrics::~Metrics() = default;

void Metrics::RenderLoading(const service::LoadingStats& stats) {
  if (loads_ == nullptr) {
    auto counter = [&](const char* name, const char* help) {
      return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
    };
    auto gauge = [&](const char* name, const char* help) {
      return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add({});
    };
    loads_ = counter("vectord_index_loads_total", "Indexes loaded on first use since start");
    load_failures_ = counter("vectord_index_load_failures_total",
                             "Loads that failed (a failed index, or a store that did not answer)");
    evictions_ = counter("vectord_index_evictions_total",
                         "Indexes unloaded to keep the loaded ones under memory_limit");
    loaded_indexes_ = gauge("vectord_indexes_loaded", "Indexes in memory now");
    loaded_bytes_ = gauge("vectord_indexes_loaded_bytes",
                          "Memory held by the loaded indexes, as the memory limit counts it");
    memory_limit_ =
        gauge("vectord_memory_limit_bytes", "The memory_limit the loaded indexes are kept under");
    prometheus::Histogram::BucketBoundaries bounds(
        std::begin(service::LoadingStats::kLoadSecondsBounds),
        std::end(service::LoadingStats::kLoadSecondsBounds));
    load_seconds_ = &prometheus::BuildHistogram()
                         .Name("vectord_index_load_seconds")
                         .Help("Time to load an index on first use (snapshot read and log replay)")
                         .Register(*registry_)
                         .Add({}, bounds);
  }
  loads_->Increment(static_cast<double>(stats.loads - loading_counted_.loads));
  load_failures_->Increment(
      static_cast<double>(stats.load_failures - loading_counted_.load_failures));
  evictions_->Increment(static_cast<double>(stats.evictions - loading_counted_.evictions));
  // The registry counts loads per cumulative bound; the histogram takes the
  // new loads per bucket.
  constexpr size_t kBounds = std::size(service::LoadingStats::kLoadSecondsBounds);
  std::vector<double> increments(kBounds + 1);
  uint64_t below = 0;
  for (size_t i = 0; i < kBounds; ++i) {
    const uint64_t within = stats.loads_within[i] - loading_counted_.loads_within[i];
    increments[i] = static_cast<double>(within - below);
    below = within;
  }
  increments[kBounds] = static_cast<double>(stats.loads - loading_counted_.loads - below);
  load_seconds_->ObserveMultiple(increments, stats.load_seconds - loading_counted_.load_seconds);
  loaded_indexes_->Set(static_cast<double>(stats.loaded_indexes));
  loaded_bytes_->Set(static_cast<double>(stats.loaded_bytes));
  memory_limit_->Set(static_cast<double>(stats.memory_limit));
  loading_counted_ = stats;
}

void Metrics::ObserveRequest(const std::string& route, int status, double seconds) {
  requests_->Add({{"route", route}, {"code", std::to_string(status)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  latency_->Add({{"route", route}}, kBuckets).Observe(seconds);
}

std::string Metrics::Render(const service::Registry& registry, const service::IndexStorage* storage,
                            const service::ClusterCoordinator* cluster) {
  std::lock_guard lock(render_mutex_);
  std::map<std::string, uint64_t> lag;
  if (cluster != nullptr) {
    if (replica_lag_ == nullptr) {
      replica_lag_ = &prometheus::BuildGauge()
                          .Name("vectord_cluster_replica_lag_records")
                          .Help(
                              "Committed records of the index this node has heard of but not "
                              "applied yet")
                          .Register(*registry_);
      writer_term_ = &prometheus::BuildGauge()
                          .Name("vectord_cluster_writer_term")
                          .Help("This node's term while it is the cluster's writer, else 0")
                          .Register(*registry_)
                          .Add({});
    }
    for (const auto& p : cluster->Progress()) lag[p.name] = p.committed - p.applied;
    writer_term_->Set(static_cast<double>(cluster->term()));
  }
  indexes_->Set(static_cast<double>(registry.count()));
  RenderLoading(registry.loading_stats());
  // Series per index for the loaded ones only: an unloaded index has no
  // traffic, and loading it to report on it would defeat unloading.
  const std::vector<std::shared_ptr<service::Index>> loaded = registry.All();
  std::set<std::string> present;
  for (const std::shared_ptr<service::Index>& index : loaded) {
    const std::string& name = index->params().name;
    present.insert(name);
    auto [it, inserted] = index_gauges_.try_emplace(name);
    IndexGauges& g = it->second;
    if (inserted) {
      g.items = &items_->Add({{"index", name}});
      g.recall = &recall_->Add({{"index", name}});
      g.recall_ci95 = &recall_ci95_->Add({{"index", name}});
      g.recall_samples = &recall_samples_->Add({{"index", name}});
      if (storage != nullptr) {
        g.replay_estimate = &replay_estimate_->Add({{"index", name}});
        g.replay_budget = &replay_budget_->Add({{"index", name}});
      }
    }
    if (g.applied_sequence == nullptr)
      g.applied_sequence = &applied_sequence_->Add({{"index", name}});
    g.applied_sequence->Set(static_cast<double>(index->applied_sequence()));
    if (cluster != nullptr) {
      if (g.replica_lag == nullptr) g.replica_lag = &replica_lag_->Add({{"index", name}});
      g.replica_lag->Set(static_cast<double>(lag[name]));
    }
    if (g.replay_estimate != nullptr) {
      g.replay_estimate->Set(index->replay_cost().seconds());
      g.replay_budget->Set(storage->ReplayBudgetSeconds(*index));
    }
    g.items->Set(static_cast<double>(index->size()));
    const service::RecallEstimate recall = index->recall().Estimate();
    g.recall->Set(recall.recall_at_10.value_or(std::numeric_limits<double>::quiet_NaN()));
    g.recall_ci95->Set(recall.recall_at_10 ? recall.ci95
                                           : std::numeric_limits<double>::quiet_NaN());
    g.recall_samples->Set(static_cast<double>(recall.samples));
  }
  for (auto it = index_gauges_.begin(); it != index_gauges_.end();) {
    if (present.count(it->first) == 0) {
      items_->Remove(it->second.items);
      recall_->Remove(it->second.recall);
      recall_ci95_->Remove(it->second.recall_ci95);
      recall_samples_->Remove(it->second.recall_samples);
      if (it->second.applied_sequence != nullptr)
        applied_sequence_->Remove(it->second.applied_sequence);
      if (it->second.replica_lag != nullptr) replica_lag_->Remove(it->second.replica_lag);
      if (it->second.replay_estimate != nullptr) {
        replay_estimate_->Remove(it->second.replay_estimate);
        replay_budget_->Remove(it->second.replay_budget);
      }
      it = index_gauges_.erase(it);
    } else {
      ++it;
    }
  }
  std::set<std::string> failed;
  for (const service::Registry::FailedIndex& f : registry.Failed()) {
    failed.insert(f.name);
    auto [it, inserted] = failed_gauges_.try_emplace(f.name, nullptr);
    if (inserted) it->second = &load_failed_->Add({{"index", f.name}});
    it->second->Set(1);
  }
  for (auto it = failed_gauges_.begin(); it != failed_gauges_.end();) {
    if (failed.count(it->first) == 0) {
      load_failed_->Remove(it->second);
      it = failed_gauges_.erase(it);
    } else {
      ++it;
    }
  }
  if (storage != nullptr) {
    service::StorageStats stats = storage->stats();
    // Storage keeps running totals; counters take the growth since the last
    // scrape.
    checkpoints_->Increment(static_cast<double>(stats.checkpoints - counted_.checkpoints));
    checkpoint_failures_->Increment(
        static_cast<double>(stats.checkpoint_failures - counted_.checkpoint_failures));
    snapshot_bytes_->Increment(static_cast<double>(stats.snapshot_bytes - counted_.snapshot_bytes));
    replayed_records_->Increment(
        static_cast<double>(stats.replayed_records - counted_.replayed_records));
    checkpoint_last_seconds_->Set(stats.last_checkpoint_seconds);
    checkpoint_longest_seconds_->Set(stats.longest_checkpoint_seconds);
    open_log_files_->Set(static_cast<double>(stats.open_log_files));
    parked_log_files_->Increment(
        static_cast<double>(stats.parked_log_files - counted_.parked_log_files));
    if (storage->has_object_store()) {
      if (segment_uploads_ == nullptr) {
        auto counter = [&](const char* name, const char* help) {
          return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
        };
        segment_uploads_ = counter("vectord_object_store_segment_uploads_total",
                                   "Log segment objects uploaded to the object store");
        segment_upload_bytes_ = counter("vectord_object_store_segment_upload_bytes_total",
                                        "Bytes of log segment objects uploaded");
        segment_upload_failures_ = counter("vectord_object_store_segment_upload_failures_total",
                                           "Log segment uploads that failed (each is retried)");
        snapshot_uploads_ = counter("vectord_object_store_snapshot_uploads_total",
                                    "Snapshots uploaded to the object store by checkpoints");
        pending_records_ = &prometheus::BuildGauge()
                                .Name("vectord_object_store_pending_records")
                                .Help("Log records written but not yet in the object store")
                                .Register(*registry_)
                                .Add({});
      }
      segment_uploads_->Increment(
          static_cast<double>(stats.segment_uploads - counted_.segment_uploads));
      segment_upload_bytes_->Increment(
          static_cast<double>(stats.segment_upload_bytes - counted_.segment_upload_bytes));
      segment_upload_failures_->Increment(
          static_cast<double>(stats.segment_upload_failures - counted_.segment_upload_failures));
      snapshot_uploads_->Increment(
          static_cast<double>(stats.snapshot_uploads - counted_.snapshot_uploads));
      size_t pending = 0;
      for (const std::shared_ptr<service::Index>& index : loaded) {
        if (index->log() != nullptr && index->log()->shipper() != nullptr) {
          pending += index->log()->shipper()->pending_records();
        }
      }
      pending_records_->Set(static_cast<double>(pending));
    }
    counted_ = stats;
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace vectord::http
