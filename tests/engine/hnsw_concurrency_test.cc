// Searches, reads and writes at once. Run under ThreadSanitizer in CI: the
// assertions here check results, TSan checks the memory accesses.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
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
// "sq8-disk": the same with the vectors in a vector file (written through
// its mapping while searches read it with io_uring).
struct Space {
  Quantization quantization;
  bool vectors_on_disk;
  const char* name;
};
class HnswConcurrency : public ::testing::TestWithParam<Space> {};

TEST_P(HnswConcurrency, SearchesRunDuringUpsertsRemovesAndConsolidation) {
  const size_t n = 3000, dim = 16;
  VectorSet base = ClusteredVectors(n, dim, 12, 21);
  IndexOptions options;
  options.dimension = dim;
  options.metric = Metric::kCosine;
  options.ef_construction = 60;
  options.quantization = GetParam().quantization;
  if (GetParam().vectors_on_disk) {
    options.vectors.placement = VectorPlacement::kDisk;
    options.vectors.directory = std::filesystem::temp_directory_path().string();
  }
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
      // Slots, once used, stay counted: an index that held items reports
      // memory.
      if (q % 4 == 1) {
        const bool held_items = index->slot_count() > 0;
        if (held_items && index->memory_usage().total() == 0) ++bad;
      }
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

// An SQ8 index of integer data walks exact codes until an item off the grid
// arrives; a search running while it does must still report true distances
// for every item it returns (it re-ranks when it sees the change after its
// walk).
TEST(HnswConcurrencyExactCodes, ItemsOffTheGridArrivingDuringSearchesGetTrueDistances) {
  const size_t n = 2000, dim = 16, extra = 300;
  VectorSet base = testing::IntegerVectors(n + extra, dim, 10, 23);
  // The late items leave the codes' range: a code distance would be wrong.
  for (size_t i = n; i < n + extra; ++i) base.data[i * dim + i % dim] += 100.5f;
  IndexOptions options;
  options.dimension = dim;
  options.metric = Metric::kEuclidean;
  options.ef_construction = 60;
  options.quantization = Quantization::kSq8;
  auto index = std::move(HnswIndex::Create(options)).value();
  std::vector<std::string> ids(n + extra);
  std::vector<ItemInput> first;
  for (size_t i = 0; i < n + extra; ++i) ids[i] = IdOf(i);
  for (size_t i = 0; i < n; ++i) first.push_back({ids[i], base.row(i), std::nullopt});
  ASSERT_TRUE(index->Upsert(first).ok());
  ASSERT_TRUE(index->codes_exact());

  std::atomic<bool> stop{false};
  std::atomic<size_t> searches{0}, wrong{0};
  auto searcher = [&](size_t seed) {
    for (size_t q = seed; !stop.load(); q += 7) {
      // Integer queries near the late items (minus their fraction).
      std::vector<float> query(base.row(n + q % extra).begin(), base.row(n + q % extra).end());
      for (float& x : query) x = std::floor(x);
      SearchOptions so;
      so.k = 10;
      auto results = index->Search(query, so);
      if (!results.ok()) {
        ++wrong;
        continue;
      }
      for (const SearchResult& r : *results) {
        const double expected =
            testing::ExactDistance(base.row(testing::IndexOfId(r.id)), query, Metric::kEuclidean);
        if (std::abs(r.distance - expected) > 1e-4 * std::max(1.0, expected)) ++wrong;
      }
      ++searches;
    }
  };
  std::thread s1(searcher, 1), s2(searcher, 2);
  for (size_t i = n; i < n + extra; i += 30) {
    std::vector<ItemInput> batch;
    for (size_t j = i; j < i + 30; ++j) batch.push_back({ids[j], base.row(j), std::nullopt});
    ASSERT_TRUE(index->Upsert(batch).ok());
  }
  // Let the searches see the final state too.
  const size_t seen = searches.load();
  while (searches.load() < seen + 20) std::this_thread::yield();
  stop = true;
  s1.join();
  s2.join();
  EXPECT_FALSE(index->codes_exact());
  EXPECT_EQ(wrong.load(), 0u);
}

INSTANTIATE_TEST_SUITE_P(EverySpace, HnswConcurrency,
                         ::testing::Values(Space{Quantization::kNone, false, "none"},
                                           Space{Quantization::kSq8, false, "sq8"},
                                           Space{Quantization::kSq8, true, "sq8_disk"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vectord::engine
