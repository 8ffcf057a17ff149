#include "service/recall_monitor.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "service/index_registry.h"
#include "service/index_stats.h"

namespace vectord::service {
namespace {

constexpr uint32_t kDimension = 24;

// Clustered Gaussian data: hard enough that a poor graph misses neighbours.
std::vector<std::vector<float>> MakeVectors(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> centres(20, std::vector<float>(kDimension));
  for (auto& c : centres) {
    for (float& x : c) x = 3.0f * normal(rng);
  }
  std::vector<std::vector<float>> out(count, std::vector<float>(kDimension));
  for (size_t i = 0; i < count; ++i) {
    const auto& c = centres[i % centres.size()];
    for (uint32_t d = 0; d < kDimension; ++d) out[i][d] = c[d] + normal(rng);
  }
  return out;
}

std::shared_ptr<Index> MakeIndex(Registry& registry, const std::string& name, int64_t m,
                                 int64_t ef_construction, int64_t ef_search,
                                 const std::vector<std::vector<float>>& vectors) {
  CreateSpec spec;
  spec.name = name;
  spec.dimension = kDimension;
  spec.distance = "euclidean";
  spec.m = m;
  spec.ef_construction = ef_construction;
  spec.ef_search = ef_search;
  auto index = registry.Create(spec);
  EXPECT_TRUE(index.ok()) << index.status().message();
  std::vector<NewItem> items;
  for (size_t i = 0; i < vectors.size(); ++i) {
    items.push_back({"item-" + std::to_string(i), vectors[i], std::nullopt});
  }
  auto added = registry.Add(*index, items);
  EXPECT_TRUE(added.ok()) << added.status().message();
  return *index;
}

// The offline measurement the estimate must agree with: every stored item
// as a query at the index's default ef, its true neighbours by brute force
// in double precision here (not through the engine), the item itself left
// out, a result correct when within the 10th true distance.
double OfflineRecall(const Index& index, const std::vector<std::vector<float>>& vectors) {
  double total = 0;
  for (size_t q = 0; q < vectors.size(); ++q) {
    std::vector<double> distances;
    distances.reserve(vectors.size());
    for (size_t i = 0; i < vectors.size(); ++i) {
      if (i == q) continue;
      double sum = 0;
      for (uint32_t d = 0; d < kDimension; ++d) {
        const double diff = double{vectors[q][d]} - vectors[i][d];
        sum += diff * diff;
      }
      distances.push_back(std::sqrt(sum));
    }
    std::nth_element(distances.begin(), distances.begin() + 9, distances.end());
    const double threshold = distances[9];
    SearchSpec spec;
    spec.vector = vectors[q];
    spec.k = 11;
    auto results = index.Search(spec);
    EXPECT_TRUE(results.ok());
    size_t hits = 0, kept = 0;
    for (const SearchHit& r : *results) {
      if (r.id == "item-" + std::to_string(q) || kept == 10) continue;
      ++kept;
      hits += r.distance <= threshold * (1 + 1e-5) + 1e-6 ? 1 : 0;
    }
    total += static_cast<double>(hits) / 10.0;
  }
  return total / static_cast<double>(vectors.size());
}

RecallEstimate RunSamples(Index& index, int count) {
  for (int i = 0; i < count; ++i) {
    EXPECT_TRUE(RecallMonitor::RunOnce(index, 1000 + static_cast<uint64_t>(i)));
  }
  return index.recall().Estimate();
}

// The test: an index built with deliberately poor parameters must
// say so, and its estimate must agree with an exact offline measurement
// within the estimate's own 95% interval. A well-built index in the same
// test must score high, so the check cannot pass by always saying "low".
TEST(RecallMonitor, PoorGraphEstimateIsLowAndAgreesWithOfflineMeasurement) {
  Registry registry(nullptr);  // inserts in this thread: the graphs are the same every run
  const auto vectors = MakeVectors(2000, 7);
  auto poor = MakeIndex(registry, "poor", /*m=*/2, /*ef_construction=*/2, /*ef_search=*/1, vectors);
  auto good = MakeIndex(registry, "good", 16, 200, 64, vectors);

  const RecallEstimate poor_estimate = RunSamples(*poor, 400);
  ASSERT_TRUE(poor_estimate.recall_at_10.has_value());
  EXPECT_EQ(poor_estimate.samples, RecallTracker::kWindow);
  EXPECT_EQ(poor_estimate.samples_from_queries, 0u);
  EXPECT_GT(poor_estimate.ci95, 0.0);
  EXPECT_LT(poor_estimate.ci95, 0.1);
  const double poor_offline = OfflineRecall(*poor, vectors);
  EXPECT_LT(*poor_estimate.recall_at_10, 0.8);
  EXPECT_NEAR(*poor_estimate.recall_at_10, poor_offline, poor_estimate.ci95)
      << "offline " << poor_offline;

  const RecallEstimate good_estimate = RunSamples(*good, 200);
  const double good_offline = OfflineRecall(*good, vectors);
  std::printf(
      "recall@10 poor graph: estimate %.4f +- %.4f, offline %.4f; good graph: %.4f +- %.4f, "
      "offline %.4f\n",
      *poor_estimate.recall_at_10, poor_estimate.ci95, poor_offline, *good_estimate.recall_at_10,
      good_estimate.ci95, good_offline);
  EXPECT_GT(*good_estimate.recall_at_10, 0.95);
  EXPECT_NEAR(*good_estimate.recall_at_10, good_offline, good_estimate.ci95)
      << "offline " << good_offline;

  // The curve rises with ef: the poor graph recovers some recall with a
  // wider search.
  ASSERT_EQ(poor_estimate.curve.size(), std::size(kRecallCurveEfs));
  EXPECT_GT(poor_estimate.curve.back().recall_at_10, poor_estimate.curve.front().recall_at_10);
  EXPECT_GT(poor_estimate.curve.back().recall_at_10, *poor_estimate.recall_at_10);
}

TEST(RecallMonitor, SampledQueriesAreMeasuredAtTheEfTheyWereServedWith) {
  Registry registry(nullptr);
  registry.SetRecallSampleRate(1.0);
  const auto vectors = MakeVectors(500, 3);
  auto index = MakeIndex(registry, "sampled", 16, 100, 8, vectors);
  SearchSpec spec;
  spec.vector = vectors[17];
  spec.ef = 256;  // wide enough to be exact on 500 items
  ASSERT_TRUE(index->Search(spec).ok());
  ASSERT_TRUE(RecallMonitor::RunOnce(*index, 1));
  RecallEstimate estimate = index->recall().Estimate();
  EXPECT_EQ(estimate.samples, 1u);
  EXPECT_EQ(estimate.samples_from_queries, 1u);
  // A real query keeps every result (it is no stored item to leave out); at
  // ef 256 over 500 items the search finds all ten.
  EXPECT_DOUBLE_EQ(*estimate.recall_at_10, 1.0);

  // Filtered searches are not sampled; at rate 0 nothing is.
  registry.SetRecallSampleRate(0);
  auto other = MakeIndex(registry, "unsampled", 16, 100, 64, vectors);
  ASSERT_TRUE(other->Search(spec).ok());
  EXPECT_FALSE(other->recall().TakeQuery().has_value());
}

TEST(RecallMonitor, TooSmallIndexesAreNotMeasured) {
  Registry registry(nullptr);
  auto index = MakeIndex(registry, "tiny", 16, 100, 64, MakeVectors(10, 5));
  EXPECT_FALSE(RecallMonitor::RunOnce(*index, 1));
  const uint32_t efs[] = {10};
  auto check = MeasureRecall(*index, efs, 10, 1);
  ASSERT_FALSE(check.ok());
  EXPECT_NE(check.status().message().find("at least 11 items"), std::string::npos);
}

TEST(RecallMonitor, ExplicitCheckAnswersInTheOrderAskedAndIsKept) {
  Registry registry(nullptr);
  const auto vectors = MakeVectors(1500, 11);
  auto index = MakeIndex(registry, "checked", 2, 2, 1, vectors);
  const uint32_t efs[] = {256, 10, 40};
  auto report = MeasureRecall(*index, efs, 100, 42);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->queries, 100u);
  ASSERT_EQ(report->results.size(), 3u);
  EXPECT_EQ(report->results[0].ef, 256u);
  EXPECT_EQ(report->results[1].ef, 10u);
  EXPECT_EQ(report->results[2].ef, 40u);
  EXPECT_GT(report->results[0].recall_at_10, report->results[1].recall_at_10);
  for (const RecallCheckPoint& p : report->results) {
    EXPECT_GE(p.recall_at_10, 0.0);
    EXPECT_LE(p.recall_at_10, 1.0);
    EXPECT_GT(p.p50_ms, 0.0);
    EXPECT_GE(p.p99_ms, p.p50_ms);
  }
  auto kept = index->recall().LastCheck();
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->results.size(), 3u);
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The thread paces itself by the CPU time its samples took: over a couple of
// seconds in which nothing else runs, the process's CPU use is the
// monitor's, and it must stay near its budget.
TEST(RecallMonitor, BackgroundThreadStaysWithinItsCpuBudget) {
  Registry registry(nullptr);
  const auto vectors = MakeVectors(3000, 13);
  auto index = MakeIndex(registry, "paced", 8, 40, 32, vectors);
  RecallMonitorOptions options;
  options.cpu_budget = 0.05;
  RecallMonitor monitor(registry, options);
  const double cpu_before = ProcessCpuSeconds();
  const auto wall_before = std::chrono::steady_clock::now();
  monitor.Start();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  monitor.Stop();
  const double cpu = ProcessCpuSeconds() - cpu_before;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  EXPECT_GT(index->recall().Estimate().samples, 0u);
  // 5% of a core, with room for thread start-up and the last sample.
  EXPECT_LT(cpu / wall, 0.05 * 2) << cpu << " s of CPU in " << wall << " s";
}

TEST(IndexStats, PercentilesCoverTheLastMinuteOrTwo) {
  IndexStats stats;
  using std::chrono::minutes;
  const IndexStats::Clock::time_point start{minutes(1000)};
  // 90 searches at ~1 ms, 9 at ~10 ms, 1 at ~100 ms.
  for (int i = 0; i < 90; ++i) stats.RecordSearch(0.001, start);
  for (int i = 0; i < 9; ++i) stats.RecordSearch(0.010, start);
  stats.RecordSearch(0.100, start);
  stats.RecordAdded(5);
  stats.RecordDeleted(2);
  IndexStatsSnapshot now = stats.Read(start);
  EXPECT_EQ(now.searches, 100u);
  EXPECT_EQ(now.items_added, 5u);
  EXPECT_EQ(now.items_deleted, 2u);
  EXPECT_EQ(now.recent_searches, 100u);
  // Buckets are 1/8 decade wide: within 16% of the value.
  EXPECT_NEAR(*now.search_p50_ms, 1.0, 0.16);
  EXPECT_NEAR(*now.search_p90_ms, 1.0, 0.16);
  EXPECT_NEAR(*now.search_p99_ms, 10.0, 1.6);

  // A minute later the old searches still count; two minutes later they do not.
  EXPECT_EQ(stats.Read(start + minutes(1)).recent_searches, 100u);
  IndexStatsSnapshot later = stats.Read(start + minutes(2));
  EXPECT_EQ(later.recent_searches, 0u);
  EXPECT_FALSE(later.search_p50_ms.has_value());
  EXPECT_EQ(later.searches, 100u);  // the running total stays

  // A new minute's searches replace the histogram two minutes back.
  stats.RecordSearch(0.050, start + minutes(2));
  IndexStatsSnapshot fresh = stats.Read(start + minutes(2));
  EXPECT_EQ(fresh.recent_searches, 1u);
  EXPECT_NEAR(*fresh.search_p99_ms, 50.0, 8.0);
}

}  // namespace
}  // namespace vectord::service
