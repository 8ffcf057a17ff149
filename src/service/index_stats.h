// IndexStats: one index's traffic — searches, items written and deleted,
// and search latency percentiles over the last minute or two — for GET
// /vectors/index/{name} and the dashboard (which turns the counters into
// rates by polling).
//
// Latency goes into log-spaced buckets (8 per decade, 1 us to 100 s, so a
// percentile is within 15% of the truth) of two one-minute histograms: the
// current minute and the one before. Percentiles read both, so they always
// cover at least the last full minute and never stale hours.
//
// Thread safety: every method may be called from any thread; recording is a
// few relaxed atomic increments (the minute turnover takes a mutex once a
// minute).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

namespace vectord::service {

struct IndexStatsSnapshot {
  uint64_t searches = 0;
  uint64_t items_added = 0;  // upserts, counting each item of a batch
  uint64_t items_deleted = 0;
  uint64_t recent_searches = 0;  // in the latency window
  // Over the last one to two minutes; nullopt when no search ran in them.
  std::optional<double> search_p50_ms, search_p90_ms, search_p99_ms;
};

class IndexStats {
 public:
  using Clock = std::chrono::steady_clock;

  IndexStats() = default;
  ~IndexStats() { delete minutes_.load(std::memory_order_relaxed); }
  IndexStats(const IndexStats&) = delete;
  IndexStats& operator=(const IndexStats&) = delete;

  void RecordSearch(double seconds, Clock::time_point now = Clock::now());
  void RecordAdded(uint64_t items) { added_.fetch_add(items, std::memory_order_relaxed); }
  void RecordDeleted(uint64_t items) { deleted_.fetch_add(items, std::memory_order_relaxed); }

  IndexStatsSnapshot Read(Clock::time_point now = Clock::now()) const;

  static constexpr int kBucketsPerDecade = 8;
  static constexpr int kBuckets = 8 * kBucketsPerDecade;  // 1e-6 s .. 1e2 s

 private:
  struct Minute {
    std::atomic<int64_t> number{-1};  // minutes since the clock's epoch
    std::array<std::atomic<uint64_t>, kBuckets> counts{};
  };
  // The histogram for `minute`, clearing the older one when a minute begins.
  Minute& MinuteFor(int64_t minute);

  using Minutes = std::array<Minute, 2>;  // indexed by minute number % 2

  std::atomic<uint64_t> searches_{0};
  std::atomic<uint64_t> added_{0};
  std::atomic<uint64_t> deleted_{0};
  // Made by the first search: an index nobody searches (most of many
  // thousands) does not carry the histograms' 1 KB. Set once (under
  // turnover_mutex_), deleted with the stats.
  std::atomic<Minutes*> minutes_{nullptr};
  std::mutex turnover_mutex_;
};

}  // namespace vectord::service
