// Searches, reads and writes at once. Run under ThreadSanitizer in CI: the
// assertions here check results, TSan checks the memory accesses.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "engine/hnsw_index.h"
#include "test_vectors.h"

namespace vectord::engine {
namespace {

using testing::ClusteredVectors;
using testing::IdOf;
using testing::VectorSet;

// With SQ8 the quantiser is trained in the second round, while searches run.
class HnswConcurrency : public ::testing::TestWithParam<Quantization> {};

TEST_P(HnswConcurrency, SearchesRunDuringUpsertsRemovesAndConsolidation) {
  const size_t n = 3000, dim = 16;
  VectorSet base = ClusteredVectors(n, dim, 12, 21);
  IndexOptions options;
  options.dimension = dim;
  options.metric = Metric::kCosine;
  options.ef_construction = 60;
  options.quantization = GetParam();
  auto index = std::move(HnswIndex::Create(options)).value();
  ThreadPool pool(2);
  std::vector<std::string> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = IdOf(i);

  std::atomic<bool> stop{false};
  std::atomic<size_t> searches{0}, bad{0};
  auto searcher = [&](size_t seed) {
    size_t q = seed;
    while (!stop.load()) {
      SearchOptions so;
      so.k = 10;
      so.with_vector = (q % 3) == 0;
      auto results = index->Search(base.row(q % n), so);
      if (!results.ok()) {
        ++bad;
      } else {
        std::set<std::string> seen;
        for (const SearchResult& r : *results) {
          // Every result is a real item id, and no id twice.
          if (r.id.rfind("item-", 0) != 0 || !seen.insert(r.id).second) ++bad;
          if (so.with_vector && r.vector.size() != dim) ++bad;
        }
      }
      auto item = index->Get(ids[(q * 7) % n]);
      if (item && item->vector.size() != dim) ++bad;
      // What GET /vectors/index/{name} reports; it must not deadlock
      // against a write that consolidates.
      if (q % 4 == 1 && index->memory_usage().total() == 0) ++bad;
      ++searches;
      q += 13;
    }
  };
  std::thread s1(searcher, 1), s2(searcher, 2);
  // Snapshots stream out while the writes go on; each must load back as a
  // whole, valid index.
  std::atomic<size_t> saves{0};
  std::thread saver([&] {
    while (!stop.load()) {
      StringSink sink;
      if (!index->Save(sink).ok()) ++bad;
      StringSource source(sink.buffer());
      auto loaded = HnswIndex::Load(source);
      if (!loaded.ok()) {
        ADD_FAILURE() << loaded.status().ToString();
        ++bad;
      } else {
        SearchOptions so;
        auto results = (*loaded)->Search(base.row(saves.load() % n), so);
        if (!results.ok() || ((*loaded)->size() > 0 && results->empty())) ++bad;
      }
      ++saves;
    }
  });

  // Writer: batches of upserts (some replacing), removals, consolidation.
  for (size_t round = 0; round < 6; ++round) {
    std::vector<ItemInput> batch;
    for (size_t i = round * 500; i < (round + 1) * 500; ++i) {
      batch.push_back({ids[i], base.row(i), std::nullopt});
    }
    if (round > 0) {
      for (size_t i = 0; i < 100; ++i) batch.push_back({ids[i], base.row(n - 1 - i), "r"});
    }
    ASSERT_TRUE(index->Upsert(batch, &pool).ok());
    std::vector<std::string_view> doomed;
    for (size_t i = round * 500; i < round * 500 + 50; ++i) doomed.push_back(ids[i]);
    index->Remove(doomed);
    if (round % 2 == 1) index->Consolidate(&pool);
  }
  stop = true;
  s1.join();
  s2.join();
  saver.join();
  EXPECT_GT(saves.load(), 0u);
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(searches.load(), 0u);
  EXPECT_EQ(index->size(), n - 6 * 50 + (/* ids 0..49 removed then re-added */ 50));
}

INSTANTIATE_TEST_SUITE_P(BothSpaces, HnswConcurrency,
                         ::testing::Values(Quantization::kNone, Quantization::kSq8),
                         [](const auto& info) {
                           return std::string(QuantizationName(info.param));
                         });

}  // namespace
}  // namespace vectord::engine
