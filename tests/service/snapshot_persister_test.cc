#include "service/snapshot_persister.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/local_object_store.h"

namespace vectord::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// Polls `done` until it holds or `timeout` passes.
template <typename Fn>
bool WaitFor(Fn done, std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

std::vector<float> RandomVector(std::mt19937& rng, size_t dim) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(dim);
  for (float& x : v) x = normal(rng);
  return v;
}

class SnapshotPersisterTest : public ::testing::Test {
 protected:
  SnapshotPersisterTest() : pool_(2), registry_(&pool_) {}

  void SetUp() override {
    char pattern[] = "/tmp/vectord_persister_test.XXXXXX";
    char* dir = ::mkdtemp(pattern);
    ASSERT_NE(dir, nullptr);
    dir_ = dir;
    auto store = store::LocalObjectStore::Open(dir_, /*sync=*/false);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    persister_ = MakePersister(10ms);
    registry_.SetListener(persister_.get());
  }

  void TearDown() override {
    registry_.SetListener(nullptr);
    persister_.reset();
    store_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::unique_ptr<SnapshotPersister> MakePersister(std::chrono::milliseconds delay) {
    PersisterOptions options;
    options.delay = delay;
    return std::make_unique<SnapshotPersister>(store_.get(), options);
  }

  std::string PathOf(const std::string& key) const { return dir_ + "/" + key; }
  std::string HnswPath(const std::string& name) const {
    return PathOf(SnapshotPersister::SnapshotKey(name));
  }
  std::string JsonPath(const std::string& name) const {
    return PathOf(SnapshotPersister::ParamsKey(name));
  }
  bool HasFiles(const std::string& name) const {
    return fs::exists(HnswPath(name)) && fs::exists(JsonPath(name));
  }

  std::shared_ptr<Index> Create(const std::string& name, int64_t dimension,
                                const std::string& distance = "", int64_t m = 0,
                                int64_t ef_search = 0, int64_t ef_construction = 0) {
    CreateSpec spec;
    spec.name = name;
    spec.dimension = dimension;
    spec.distance = distance;
    spec.m = m;
    spec.ef_search = ef_search;
    spec.ef_construction = ef_construction;
    auto index = registry_.Create(spec);
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? *index : nullptr;
  }

  // Adds `count` random items "<prefix><i>"; every other one has metadata.
  void AddItems(const std::shared_ptr<Index>& index, size_t count, uint32_t seed,
                const std::string& prefix = "item-") {
    std::mt19937 rng(seed);
    std::vector<NewItem> items;
    for (size_t i = 0; i < count; ++i) {
      NewItem item;
      item.id = prefix + std::to_string(i);
      item.vector = RandomVector(rng, index->params().dimension);
      if (i % 2 == 0) item.metadata = "{\"i\":" + std::to_string(i) + ",\"tag\":\"t\"}";
      if (i % 7 == 0) item.metadata = "null";
      items.push_back(std::move(item));
    }
    auto size = registry_.Add(index, items);
    ASSERT_TRUE(size.ok()) << size.status().ToString();
  }

  void Flush() {
    Status s = persister_->Flush();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // LoadAll into a fresh registry through a fresh persister on the same store.
  SnapshotPersister::LoadReport Reload(Registry& into) {
    auto loader = MakePersister(10ms);
    return loader->LoadAll(into);
  }

  static std::vector<engine::SearchResult> Search(const Index& index,
                                                  const std::vector<float>& query, int64_t k) {
    SearchSpec spec;
    spec.vector = query;
    spec.k = k;
    spec.include_vector = true;
    auto results = index.Search(spec);
    EXPECT_TRUE(results.ok()) << results.status().ToString();
    return results.ok() ? *results : std::vector<engine::SearchResult>{};
  }

  static void ExpectSameIndex(const Index& a, const Index& b) {
    EXPECT_EQ(a.params().name, b.params().name);
    EXPECT_EQ(a.params().dimension, b.params().dimension);
    EXPECT_EQ(a.params().m, b.params().m);
    EXPECT_EQ(a.params().ef_search, b.params().ef_search);
    EXPECT_EQ(a.params().ef_construction, b.params().ef_construction);
    EXPECT_EQ(a.params().metric, b.params().metric);
    EXPECT_EQ(a.engine().options().dimension, b.engine().options().dimension);
    EXPECT_EQ(a.engine().options().m, b.engine().options().m);
    EXPECT_EQ(a.engine().options().ef_search, b.engine().options().ef_search);
    EXPECT_EQ(a.engine().options().metric, b.engine().options().metric);
    ASSERT_EQ(a.size(), b.size());
    size_t checked = 0;
    a.engine().ForEachLive([&](uint32_t, std::string_view id, const std::string*) {
      auto x = a.engine().Get(id);
      auto y = b.engine().Get(id);
      ASSERT_TRUE(x.has_value());
      ASSERT_TRUE(y.has_value()) << id;
      EXPECT_EQ(x->vector, y->vector) << id;
      EXPECT_EQ(x->payload, y->payload) << id;
      ++checked;
    });
    EXPECT_EQ(checked, a.size());
    std::mt19937 rng(99);
    for (int q = 0; q < 10; ++q) {
      std::vector<float> query = RandomVector(rng, a.params().dimension);
      auto ra = Search(a, query, 10);
      auto rb = Search(b, query, 10);
      ASSERT_EQ(ra.size(), rb.size());
      for (size_t i = 0; i < ra.size(); ++i) {
        EXPECT_EQ(ra[i].id, rb[i].id) << "query " << q << " rank " << i;
        EXPECT_FLOAT_EQ(ra[i].distance, rb[i].distance);
        EXPECT_EQ(ra[i].payload, rb[i].payload);
        EXPECT_EQ(ra[i].vector, rb[i].vector);
      }
    }
  }

  std::string dir_;
  ThreadPool pool_;
  std::unique_ptr<store::LocalObjectStore> store_;
  std::unique_ptr<SnapshotPersister> persister_;
  Registry registry_;
};

TEST(SnapshotKeys, Layout) {
  EXPECT_EQ(SnapshotPersister::SnapshotKey("docs"), "_vectors/docs.hnsw");
  EXPECT_EQ(SnapshotPersister::ParamsKey("docs"), "_vectors/docs.json");
  EXPECT_EQ(SnapshotPersister::SnapshotKey("v1.2"), "_vectors/v1.2.hnsw");
}

TEST_F(SnapshotPersisterTest, FlushThenLoadAllRestoresEverything) {
  auto docs = Create("docs", 8, "euclidean", /*m=*/8, /*ef_search=*/33, /*ef_construction=*/50);
  auto other = Create("other", 3, "cosine");
  auto dot = Create("dotty", 5, "dot", 4);
  auto empty = Create("empty", 2);
  ASSERT_TRUE(docs && other && dot && empty);
  AddItems(docs, 300, 1);
  AddItems(other, 50, 2);
  AddItems(dot, 40, 3);
  // Replace some items so the saved index has tombstones or reused slots.
  AddItems(docs, 20, 4);
  Flush();

  EXPECT_TRUE(HasFiles("docs"));
  EXPECT_TRUE(HasFiles("other"));
  EXPECT_TRUE(HasFiles("dotty"));
  EXPECT_TRUE(HasFiles("empty"));
  auto keys = store_->List("_vectors/");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, (std::vector<std::string>{"_vectors/docs.hnsw", "_vectors/docs.json",
                                             "_vectors/dotty.hnsw", "_vectors/dotty.json",
                                             "_vectors/empty.hnsw", "_vectors/empty.json",
                                             "_vectors/other.hnsw", "_vectors/other.json"}));
  std::string json = ReadFile(JsonPath("docs"));
  EXPECT_NE(json.find("\"name\":\"docs\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"dimension\":8"), std::string::npos) << json;
  EXPECT_NE(json.find("\"distance\":\"euclidean\""), std::string::npos) << json;

  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 4u);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(restored.Names(), (std::vector<std::string>{"docs", "dotty", "empty", "other"}));
  for (const auto& original : {docs, other, dot, empty}) {
    SCOPED_TRACE(original->params().name);
    auto copy = restored.Find(original->params().name);
    ASSERT_NE(copy, nullptr);
    EXPECT_FALSE(copy->dropped());
    ExpectSameIndex(*original, *copy);
  }
  EXPECT_EQ(restored.Find("docs")->params().ef_search, 33u);
  EXPECT_EQ(restored.Find("docs")->params().ef_construction, 50u);
  EXPECT_EQ(restored.Find("docs")->params().m, 8u);
  EXPECT_EQ(restored.Find("dotty")->params().metric, engine::Metric::kDot);
  EXPECT_EQ(restored.Find("docs")->size(), 300u);

  // A loaded index takes writes like any other.
  NewItem item;
  item.id = "fresh";
  item.vector = std::vector<float>(8, 0.5f);
  item.metadata = "{\"x\":1}";
  auto size = restored.Add(restored.Find("docs"), std::vector<NewItem>{item});
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(*size, 301u);
}

TEST_F(SnapshotPersisterTest, LoadAllOfEmptyStore) {
  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 0u);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(restored.count(), 0u);
}

TEST_F(SnapshotPersisterTest, FlushWithNothingPendingWritesNothing) {
  Flush();
  EXPECT_FALSE(fs::exists(dir_ + "/_vectors"));
  EXPECT_EQ(persister_->stats().snapshots, 0u);
  auto docs = Create("docs", 4);
  Flush();
  EXPECT_EQ(persister_->stats().snapshots, 1u);
  Flush();  // the queue is empty again
  EXPECT_EQ(persister_->stats().snapshots, 1u);
}

TEST_F(SnapshotPersisterTest, LatestStateIsSaved) {
  auto docs = Create("docs", 4, "euclidean");
  Flush();
  AddItems(docs, 30, 5);
  Flush();
  AddItems(docs, 60, 6, "more-");
  Flush();
  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 1u);
  ASSERT_NE(restored.Find("docs"), nullptr);
  EXPECT_EQ(restored.Find("docs")->size(), 90u);
  ExpectSameIndex(*docs, *restored.Find("docs"));
}

TEST_F(SnapshotPersisterTest, DropRemovesBothFiles) {
  auto docs = Create("docs", 4);
  auto keep = Create("keep", 4);
  AddItems(docs, 20, 1);
  Flush();
  ASSERT_TRUE(HasFiles("docs"));

  ASSERT_TRUE(registry_.Drop("docs").ok());
  // Nothing happens until the work is done.
  EXPECT_TRUE(HasFiles("docs"));
  Flush();
  EXPECT_FALSE(fs::exists(HnswPath("docs")));
  EXPECT_FALSE(fs::exists(JsonPath("docs")));
  EXPECT_TRUE(HasFiles("keep"));
  auto keys = store_->List("_vectors/");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, (std::vector<std::string>{"_vectors/keep.hnsw", "_vectors/keep.json"}));

  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 1u);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(restored.Names(), std::vector<std::string>{"keep"});
}

TEST_F(SnapshotPersisterTest, CreateThenDropBeforeFlushWritesNothing) {
  auto docs = Create("docs", 4);
  AddItems(docs, 10, 1);
  ASSERT_TRUE(registry_.Drop("docs").ok());
  Flush();
  EXPECT_FALSE(fs::exists(HnswPath("docs")));
  EXPECT_FALSE(fs::exists(JsonPath("docs")));
  EXPECT_EQ(persister_->stats().snapshots, 0u);
}

TEST_F(SnapshotPersisterTest, DroppedIndexIsNotSavedEvenWithoutOnDropped) {
  // The persister learns of the change, but the drop reaches it only through
  // the index's dropped flag.
  Registry quiet(&pool_);
  CreateSpec spec;
  spec.name = "docs";
  spec.dimension = 4;
  auto docs = quiet.Create(spec);
  ASSERT_TRUE(docs.ok());
  persister_->OnChanged(*docs);
  ASSERT_TRUE(quiet.Drop("docs").ok());
  Flush();
  EXPECT_FALSE(fs::exists(HnswPath("docs")));
  EXPECT_FALSE(fs::exists(JsonPath("docs")));
}

TEST_F(SnapshotPersisterTest, DropThenRecreateKeepsNewIndex) {
  auto old_index = Create("docs", 4, "euclidean");
  AddItems(old_index, 25, 1, "old-");
  Flush();
  ASSERT_TRUE(HasFiles("docs"));

  ASSERT_TRUE(registry_.Drop("docs").ok());
  auto new_index = Create("docs", 8, "dot");
  AddItems(new_index, 12, 2, "new-");
  Flush();

  ASSERT_TRUE(HasFiles("docs"));
  std::string json = ReadFile(JsonPath("docs"));
  EXPECT_NE(json.find("\"dimension\":8"), std::string::npos) << json;
  EXPECT_NE(json.find("\"distance\":\"dot\""), std::string::npos) << json;
  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 1u);
  EXPECT_EQ(report.failed, 0u);
  auto loaded = restored.Find("docs");
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->params().dimension, 8u);
  EXPECT_EQ(loaded->params().metric, engine::Metric::kDot);
  EXPECT_EQ(loaded->size(), 12u);
  EXPECT_TRUE(loaded->engine().Contains("new-0"));
  EXPECT_FALSE(loaded->engine().Contains("old-0"));
  ExpectSameIndex(*new_index, *loaded);
}

TEST_F(SnapshotPersisterTest, DropThenRecreateWithinOneBatch) {
  // The old index is saved, changed again, dropped and replaced, all before
  // the next flush: the delete must come before the new save.
  auto old_index = Create("docs", 4);
  AddItems(old_index, 10, 1, "old-");
  Flush();
  AddItems(old_index, 5, 2, "old2-");
  ASSERT_TRUE(registry_.Drop("docs").ok());
  auto new_index = Create("docs", 6);
  AddItems(new_index, 7, 3, "new-");
  // A late change notification for the dropped index must not resurrect it.
  persister_->OnChanged(old_index);
  persister_->OnChanged(new_index);
  Flush();

  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 1u);
  EXPECT_EQ(report.failed, 0u);
  auto loaded = restored.Find("docs");
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->params().dimension, 6u);
  EXPECT_EQ(loaded->size(), 7u);
}

TEST_F(SnapshotPersisterTest, DropThenRecreateNeverSavedBefore) {
  auto old_index = Create("docs", 4);
  ASSERT_TRUE(registry_.Drop("docs").ok());
  auto new_index = Create("docs", 16);
  AddItems(new_index, 3, 1);
  Flush();
  std::string json = ReadFile(JsonPath("docs"));
  EXPECT_NE(json.find("\"dimension\":16"), std::string::npos) << json;
  Registry restored(&pool_);
  EXPECT_EQ(Reload(restored).loaded, 1u);
  ASSERT_NE(restored.Find("docs"), nullptr);
  EXPECT_EQ(restored.Find("docs")->params().dimension, 16u);
  EXPECT_EQ(restored.Find("docs")->size(), 3u);
}

TEST_F(SnapshotPersisterTest, CorruptedSnapshotIsSkipped) {
  auto good = Create("good", 8);
  auto bad = Create("bad", 8);
  AddItems(good, 100, 1);
  AddItems(bad, 100, 2);
  Flush();

  std::string bytes = ReadFile(HnswPath("bad"));
  ASSERT_GT(bytes.size(), 100u);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
  WriteFile(HnswPath("bad"), bytes);

  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 1u);
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(restored.Names(), std::vector<std::string>{"good"});
  ExpectSameIndex(*good, *restored.Find("good"));
}

TEST_F(SnapshotPersisterTest, EveryFlippedByteIsCaught) {
  // A small index, so that every byte of its file can be damaged in turn.
  auto tiny = Create("tiny", 2, "euclidean");
  AddItems(tiny, 3, 1);
  Flush();
  const std::string original = ReadFile(HnswPath("tiny"));
  ASSERT_FALSE(original.empty());
  for (size_t i = 0; i < original.size(); ++i) {
    std::string bytes = original;
    bytes[i] = static_cast<char>(bytes[i] ^ 0x01);
    WriteFile(HnswPath("tiny"), bytes);
    Registry restored(&pool_);
    auto report = Reload(restored);
    EXPECT_EQ(report.loaded, 0u) << "byte " << i << " of " << original.size();
    EXPECT_EQ(report.failed, 1u) << "byte " << i;
  }
  // Truncated and extended files too.
  WriteFile(HnswPath("tiny"), original.substr(0, original.size() - 1));
  Registry truncated(&pool_);
  EXPECT_EQ(Reload(truncated).failed, 1u);
  WriteFile(HnswPath("tiny"), original + "x");
  Registry extended(&pool_);
  EXPECT_EQ(Reload(extended).failed, 1u);
  WriteFile(HnswPath("tiny"), original);
  Registry intact(&pool_);
  EXPECT_EQ(Reload(intact).loaded, 1u);
}

TEST_F(SnapshotPersisterTest, ParamsThatDisagreeWithSnapshotAreSkipped) {
  auto docs = Create("docs", 4, "euclidean", /*m=*/8);
  auto good = Create("good", 4);
  AddItems(docs, 20, 1);
  Flush();
  const std::string json = ReadFile(JsonPath("docs"));
  ASSERT_NE(json.find("\"dimension\":4"), std::string::npos) << json;
  ASSERT_NE(json.find("\"m\":8"), std::string::npos) << json;
  ASSERT_NE(json.find("\"distance\":\"euclidean\""), std::string::npos) << json;

  auto replace = [](std::string text, const std::string& from, const std::string& to) {
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  };
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"\"dimension\":4", "\"dimension\":5"},
      {"\"m\":8", "\"m\":9"},
      {"\"distance\":\"euclidean\"", "\"distance\":\"cosine\""},
      {"\"name\":\"docs\"", "\"name\":\"good\""},
      {"\"format_version\":1", "\"format_version\":2"},
      {"\"format\":\"vectord.index-params\"", "\"format\":\"something-else\""},
      {"\"dimension\":4", "\"dimension\":0"},
      {"\"dimension\":4", "\"dimension\":\"4\""},
      {"\"distance\":\"euclidean\"", "\"distance\":\"manhattan\""},
      {"{", "["},
  };
  for (const auto& [from, to] : edits) {
    SCOPED_TRACE(from + " -> " + to);
    WriteFile(JsonPath("docs"), replace(json, from, to));
    Registry restored(&pool_);
    auto report = Reload(restored);
    EXPECT_EQ(report.loaded, 1u);
    EXPECT_EQ(report.failed, 1u);
    EXPECT_EQ(restored.Names(), std::vector<std::string>{"good"});
  }
  // Restoring the original file makes it load again.
  WriteFile(JsonPath("docs"), json);
  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 2u);
  EXPECT_EQ(report.failed, 0u);
}

TEST_F(SnapshotPersisterTest, ParamsWithoutSnapshotFail) {
  auto docs = Create("docs", 4);
  Flush();
  ASSERT_TRUE(store_->Delete(SnapshotPersister::SnapshotKey("docs")).ok());
  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 0u);
  EXPECT_EQ(report.failed, 1u);
}

TEST_F(SnapshotPersisterTest, SnapshotOfAnotherIndexIsSkipped) {
  // docs.json is intact, but docs.hnsw holds another index of another shape.
  auto docs = Create("docs", 4);
  auto wide = Create("wide", 12);
  AddItems(docs, 10, 1);
  AddItems(wide, 10, 2);
  Flush();
  WriteFile(HnswPath("docs"), ReadFile(HnswPath("wide")));
  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 1u);
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(restored.Names(), std::vector<std::string>{"wide"});
}

TEST_F(SnapshotPersisterTest, OrphanSnapshotAndForeignKeysAreIgnored) {
  auto docs = Create("docs", 4);
  AddItems(docs, 10, 1);
  Flush();
  const std::string hnsw = ReadFile(HnswPath("docs"));
  // A snapshot whose params file never got written (crash between the two).
  ASSERT_TRUE(store_->Put("_vectors/orphan.hnsw", hnsw).ok());
  // Keys that are not params files of valid index names.
  const std::string json = ReadFile(JsonPath("docs"));
  ASSERT_TRUE(store_->Put("_vectors/sub/docs.json", json).ok());
  ASSERT_TRUE(store_->Put("_vectors/-bad.json", json).ok());
  ASSERT_TRUE(store_->Put("_vectors/.json", json).ok());
  ASSERT_TRUE(store_->Put("_vectors/readme.txt", "hello").ok());
  ASSERT_TRUE(store_->Put("elsewhere/docs2.json", json).ok());

  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 1u);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(restored.Names(), std::vector<std::string>{"docs"});
}

TEST_F(SnapshotPersisterTest, ParamsFileNamingAnotherIndexIsSkipped) {
  auto docs = Create("docs", 4);
  Flush();
  // alias.json says it is "docs"; alias.hnsw is a faithful copy.
  ASSERT_TRUE(store_->Put("_vectors/alias.hnsw", ReadFile(HnswPath("docs"))).ok());
  ASSERT_TRUE(store_->Put("_vectors/alias.json", ReadFile(JsonPath("docs"))).ok());
  Registry restored(&pool_);
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 1u);
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(restored.Names(), std::vector<std::string>{"docs"});
}

TEST_F(SnapshotPersisterTest, LoadAllIntoRegistryWithTakenNameCountsFailure) {
  auto docs = Create("docs", 4);
  Flush();
  Registry restored(&pool_);
  CreateSpec spec;
  spec.name = "docs";
  spec.dimension = 2;
  ASSERT_TRUE(restored.Create(spec).ok());
  auto report = Reload(restored);
  EXPECT_EQ(report.loaded, 0u);
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(restored.Find("docs")->params().dimension, 2u);
}

TEST_F(SnapshotPersisterTest, BackgroundThreadWritesWithoutFlush) {
  persister_->Start();
  auto docs = Create("docs", 4);
  AddItems(docs, 40, 1);
  ASSERT_TRUE(WaitFor([&] { return persister_->stats().snapshots >= 1 && HasFiles("docs"); }))
      << "no snapshot within 5 s";
  // The last change is in the file once the queue has drained.
  ASSERT_TRUE(WaitFor([&] {
    Registry probe(&pool_);
    auto report = Reload(probe);
    return report.loaded == 1 && probe.Find("docs")->size() == 40;
  }));

  // Drops are carried out by the thread too.
  ASSERT_TRUE(registry_.Drop("docs").ok());
  ASSERT_TRUE(
      WaitFor([&] { return !fs::exists(JsonPath("docs")) && !fs::exists(HnswPath("docs")); }));
  persister_->Stop();
  EXPECT_EQ(persister_->stats().failures, 0u);
}

TEST_F(SnapshotPersisterTest, BackgroundThreadCoalescesBursts) {
  registry_.SetListener(nullptr);
  auto slow = MakePersister(1000ms);
  registry_.SetListener(slow.get());
  slow->Start();
  auto docs = Create("docs", 4);
  for (int round = 0; round < 5; ++round) AddItems(docs, 5, round, "r" + std::to_string(round));
  ASSERT_TRUE(WaitFor([&] { return slow->stats().snapshots >= 1; }));
  std::this_thread::sleep_for(200ms);
  slow->Stop();
  // Six changes within far less than the delay: one snapshot.
  EXPECT_EQ(slow->stats().snapshots, 1u);
  Registry restored(&pool_);
  EXPECT_EQ(Reload(restored).loaded, 1u);
  ASSERT_NE(restored.Find("docs"), nullptr);
  EXPECT_EQ(restored.Find("docs")->size(), 25u);
  registry_.SetListener(nullptr);
}

TEST_F(SnapshotPersisterTest, StopLeavesPendingWorkForFlush) {
  registry_.SetListener(nullptr);
  auto slow = MakePersister(10000ms);
  registry_.SetListener(slow.get());
  slow->Start();
  auto docs = Create("docs", 4);
  AddItems(docs, 5, 1);
  std::this_thread::sleep_for(50ms);
  auto stop_started = std::chrono::steady_clock::now();
  slow->Stop();
  // Stop does not wait out the delay.
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, 5000ms);
  EXPECT_FALSE(fs::exists(JsonPath("docs")));
  EXPECT_EQ(slow->stats().snapshots, 0u);

  // Changes after Stop are queued, not written, until Flush.
  AddItems(docs, 5, 2, "late-");
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(fs::exists(JsonPath("docs")));
  Status s = slow->Flush();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(HasFiles("docs"));
  Registry restored(&pool_);
  EXPECT_EQ(Reload(restored).loaded, 1u);
  EXPECT_EQ(restored.Find("docs")->size(), 10u);

  // Restart after Stop works.
  slow.reset();
  registry_.SetListener(persister_.get());
  persister_->Start();
  persister_->Stop();
  persister_->Start();
  ASSERT_TRUE(registry_.Drop("docs").ok());
  EXPECT_TRUE(WaitFor([&] { return !fs::exists(JsonPath("docs")); }));
  persister_->Stop();
}

TEST_F(SnapshotPersisterTest, FailedFlushKeepsWorkQueued) {
  auto docs = Create("docs", 4);
  AddItems(docs, 10, 1);
  // A plain file where the _vectors directory should be makes every write fail.
  WriteFile(dir_ + "/_vectors", "in the way");
  Status s = persister_->Flush();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(persister_->stats().snapshots, 0u);

  ASSERT_TRUE(fs::remove(dir_ + "/_vectors"));
  Flush();  // the failed work is retried
  EXPECT_TRUE(HasFiles("docs"));
  EXPECT_EQ(persister_->stats().snapshots, 1u);
  Registry restored(&pool_);
  EXPECT_EQ(Reload(restored).loaded, 1u);
  EXPECT_EQ(restored.Find("docs")->size(), 10u);
}

TEST_F(SnapshotPersisterTest, BackgroundThreadRetriesFailures) {
  WriteFile(dir_ + "/_vectors", "in the way");
  persister_->Start();
  auto docs = Create("docs", 4);
  AddItems(docs, 10, 1);
  ASSERT_TRUE(WaitFor([&] { return persister_->stats().failures >= 1; }));
  EXPECT_EQ(persister_->stats().snapshots, 0u);
  ASSERT_TRUE(fs::remove(dir_ + "/_vectors"));
  ASSERT_TRUE(WaitFor([&] { return HasFiles("docs") && persister_->stats().snapshots >= 1; }));
  persister_->Stop();
  Registry restored(&pool_);
  EXPECT_EQ(Reload(restored).loaded, 1u);
  EXPECT_EQ(restored.Find("docs")->size(), 10u);
}

TEST_F(SnapshotPersisterTest, StatsCountSnapshotsAndBytes) {
  PersisterStats zero = persister_->stats();
  EXPECT_EQ(zero.snapshots, 0u);
  EXPECT_EQ(zero.failures, 0u);
  EXPECT_EQ(zero.bytes_written, 0u);

  auto docs = Create("docs", 8);
  auto other = Create("other", 3);
  AddItems(docs, 50, 1);
  Flush();
  PersisterStats first = persister_->stats();
  EXPECT_EQ(first.snapshots, 2u);  // one per index
  EXPECT_EQ(first.failures, 0u);
  const uint64_t on_disk = fs::file_size(HnswPath("docs")) + fs::file_size(JsonPath("docs")) +
                           fs::file_size(HnswPath("other")) + fs::file_size(JsonPath("other"));
  EXPECT_EQ(first.bytes_written, on_disk);
  EXPECT_GE(first.last_snapshot_seconds, 0.0);

  AddItems(docs, 50, 2, "more-");
  Flush();
  PersisterStats second = persister_->stats();
  EXPECT_EQ(second.snapshots, 3u);
  EXPECT_EQ(second.bytes_written, first.bytes_written + fs::file_size(HnswPath("docs")) +
                                      fs::file_size(JsonPath("docs")));

  // Deletes are not snapshots.
  ASSERT_TRUE(registry_.Drop("other").ok());
  Flush();
  EXPECT_EQ(persister_->stats().snapshots, 3u);
  EXPECT_EQ(persister_->stats().bytes_written, second.bytes_written);
}

}  // namespace
}  // namespace vectord::service
