// The live recall self-check: every index keeps an estimate of its own
// recall@10, so an operator can see whether it still returns the true
// neighbours after months of upserts and deletes.
//
// RecallTracker (one per index) keeps a copy of a small fraction of the
// real, unfiltered queries, and a sliding window of measured samples.
// RecallMonitor (one per server) runs one background thread at idle CPU
// priority that, within a CPU budget, takes a sampled query — or, when none
// waits, a stored item's vector — searches it as it was served and at a
// grid of ef values, finds the exact answer by scanning every item, and
// records the fraction of the true 10 nearest that the search found. A
// stored item used as a query is left out of both answers (it would find
// itself and flatter the graph).
//
// A result counts as a true neighbour when its distance is within the exact
// 10th distance: items at equal distance are interchangeable (the
// ann-benchmarks definition).
//
// MeasureRecall is the explicit check behind POST
// /vectors/index/{name}/recall-check: queries drawn from the stored items,
// each ef measured with latencies, now and in the caller's thread.
//
// Thread safety: every method of RecallTracker may be called from any
// thread. RecallMonitor's Start/Stop from one thread; RunOnce from anywhere
// (tests drive it without the thread).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace vectord::service {

class Index;
class Registry;

// The ef values every sample is also measured at: the recall-vs-ef curve.
inline constexpr uint32_t kRecallCurveEfs[] = {10, 16, 24, 32, 48, 64, 96, 128, 256};

struct RecallPoint {
  uint32_t ef = 0;
  double recall_at_10 = 0;
  size_t samples = 0;
  double ci95 = 0;
};

struct RecallEstimate {
  // The searches as they were served (each at its own ef); nullopt before the
  // first sample.
  std::optional<double> recall_at_10;
  size_t samples = 0;
  size_t samples_from_queries = 0;  // the rest used stored items as queries
  uint64_t total_samples = 0;       // measured since the index was loaded
  double ci95 = 0;                  // half-width of the 95% interval of the mean
  std::vector<RecallPoint> curve;   // one point per kRecallCurveEfs entry with samples
};

struct RecallCheckPoint {
  uint32_t ef = 0;
  double recall_at_10 = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

struct RecallCheckReport {
  size_t queries = 0;
  std::vector<RecallCheckPoint> results;  // in the order the efs were asked
  std::chrono::system_clock::time_point measured_at;
};

// A query kept for the monitor.
struct SampledQuery {
  std::vector<float> vector;
  size_t ef = 0;  // as served (0: the index's ef_search)
};

class RecallTracker {
 public:
  static constexpr size_t kWindow = 200;     // samples the estimate covers
  static constexpr size_t kMaxPending = 16;  // sampled queries waiting for the monitor

  // From the search path: keeps a copy of the query with probability
  // `sample_rate` (a thread-local coin; no lock unless it is kept).
  void OfferQuery(std::span<const float> vector, size_t ef, double sample_rate);
  std::optional<SampledQuery> TakeQuery();

  // One measured sample: the recall as served, and one per kRecallCurveEfs.
  void Record(double served, std::span<const double> curve, bool from_query);
  RecallEstimate Estimate() const;

  void SetLastCheck(RecallCheckReport report);
  std::optional<RecallCheckReport> LastCheck() const;

 private:
  mutable std::mutex mutex_;
  std::deque<SampledQuery> pending_;
  std::deque<double> served_;  // the window, oldest first
  std::deque<bool> from_query_;
  std::vector<std::deque<double>> curve_;  // per kRecallCurveEfs entry
  std::optional<RecallCheckReport> last_check_;
  uint64_t total_samples_ = 0;
};

// The fraction of searches sampled is set on the Registry
// (SetRecallSampleRate), which hands it to every index.
struct RecallMonitorOptions {
  // Share of one core the monitor may use (0 turns it off).
  double cpu_budget = 0.05;
  // How long to wait before looking again when no index has items.
  std::chrono::milliseconds idle_poll{1000};
};

class RecallMonitor {
 public:
  RecallMonitor(const Registry& registry, RecallMonitorOptions options);
  ~RecallMonitor();

  void Start();
  void Stop();

  // Measures one sample on `index` now; false when it has too few items
  // (11) to measure. The CPU time it used goes to `cpu_seconds` if given.
  static bool RunOnce(Index& index, uint64_t seed, double* cpu_seconds = nullptr);

 private:
  void Loop();

  const Registry& registry_;
  const RecallMonitorOptions options_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
};

// The explicit check: `queries` stored items (drawn at random with `seed`,
// each left out of its own answers) searched at every ef of `efs`, against
// the exact answer. InvalidArgument when the index has fewer than 11 items.
Result<RecallCheckReport> MeasureRecall(const Index& index, std::span<const uint32_t> efs,
                                        size_t queries, uint64_t seed);

}  // namespace vectord::service
