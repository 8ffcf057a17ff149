#include "service/index_stats.h"

#include <algorithm>
#include <cmath>

namespace vectord::service {
namespace {

int64_t MinuteOf(IndexStats::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::minutes>(t.time_since_epoch()).count();
}

int BucketOf(double seconds) {
  if (!(seconds > 1e-6)) return 0;
  const int bucket =
      static_cast<int>(std::floor(std::log10(seconds * 1e6) * IndexStats::kBucketsPerDecade));
  return std::clamp(bucket, 0, IndexStats::kBuckets - 1);
}

// The geometric middle of a bucket, in milliseconds.
double BucketMillis(int bucket) {
  return 1e-3 * std::pow(10.0, (bucket + 0.5) / IndexStats::kBucketsPerDecade);
}

}  // namespace

IndexStats::Minute& IndexStats::MinuteFor(int64_t minute) {
  Minutes* minutes = minutes_.load(std::memory_order_acquire);
  if (minutes == nullptr) {
    std::lock_guard lock(turnover_mutex_);
    minutes = minutes_.load(std::memory_order_relaxed);
    if (minutes == nullptr) {
      minutes = new Minutes();
      minutes_.store(minutes, std::memory_order_release);
    }
  }
  Minute& m = (*minutes)[static_cast<size_t>(minute % 2)];
  if (m.number.load(std::memory_order_acquire) != minute) {
    std::lock_guard lock(turnover_mutex_);
    if (m.number.load(std::memory_order_relaxed) != minute) {
      // A recorder that raced past the check may still add one count to the
      // old minute's buckets; a percentile can absorb that.
      for (auto& c : m.counts) c.store(0, std::memory_order_relaxed);
      m.number.store(minute, std::memory_order_release);
    }
  }
  return m;
}

void IndexStats::RecordSearch(double seconds, Clock::time_point now) {
  searches_.fetch_add(1, std::memory_order_relaxed);
  MinuteFor(MinuteOf(now))
      .counts[static_cast<size_t>(BucketOf(seconds))]
      .fetch_add(1, std::memory_order_relaxed);
}

IndexStatsSnapshot IndexStats::Read(Clock::time_point now) const {
  IndexStatsSnapshot out;
  out.searches = searches_.load(std::memory_order_relaxed);
  out.items_added = added_.load(std::memory_order_relaxed);
  out.items_deleted = deleted_.load(std::memory_order_relaxed);

  const Minutes* minutes = minutes_.load(std::memory_order_acquire);
  if (minutes == nullptr) return out;  // never searched
  const int64_t current = MinuteOf(now);
  std::array<uint64_t, kBuckets> counts{};
  for (const Minute& m : *minutes) {
    const int64_t number = m.number.load(std::memory_order_acquire);
    if (number != current && number != current - 1) continue;  // older than the window
    for (int b = 0; b < kBuckets; ++b) counts[b] += m.counts[b].load(std::memory_order_relaxed);
  }
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  out.recent_searches = total;
  if (total == 0) return out;
  auto percentile = [&](double p) {
    const auto rank = static_cast<uint64_t>(std::ceil(p * static_cast<double>(total)));
    uint64_t seen = 0;
    for (int b = 0; b < kBuckets; ++b) {
      seen += counts[b];
      if (seen >= std::max<uint64_t>(rank, 1)) return BucketMillis(b);
    }
    return BucketMillis(kBuckets - 1);
  };
  out.search_p50_ms = percentile(0.50);
  out.search_p90_ms = percentile(0.90);
  out.search_p99_ms = percentile(0.99);
  return out;
}

}  // namespace vectord::service
