// IndexStorage with a real LocalObjectStore and the real disk: every test
// writes through Registry + IndexStorage, then "restarts" — builds a fresh
// Registry + IndexStorage over the same data directory and runs LoadAll — and
// checks what came back. Write failures are injected below the log with
// FaultInjectingFileSystem, which wraps the real PosixFileSystem.
#include "service/index_storage.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../store/fault_injecting_file_system.h"
#include "../store/test_files.h"
#include "engine/hnsw_index.h"
#include "service/bucket_mirror.h"
#include "store/local_object_store.h"
#include "store/log_format.h"
#include "store/log_shipper.h"
#include "store/log_writer.h"

namespace vectord::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using store::testing::FaultInjectingFileSystem;

using vectord::store::testing::ReadFile;
using vectord::store::testing::WriteFile;

uint32_t GetU32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return v;
}

// The byte offset of every record in a log segment, and the file's end.
std::vector<size_t> RecordStarts(const std::string& bytes) {
  std::vector<size_t> starts;
  size_t at = store::log_format::kSegmentHeaderSize;
  while (at + store::log_format::kRecordHeaderSize <= bytes.size()) {
    starts.push_back(at);
    at += store::log_format::kRecordHeaderSize + GetU32(bytes, at + 8);  // length field
  }
  starts.push_back(at);
  return starts;
}

template <typename Fn>
bool WaitFor(Fn done, std::chrono::milliseconds timeout = 10000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return done();
}

std::vector<float> RandomVector(std::mt19937& rng, size_t dim) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(dim);
  for (float& x : v) x = normal(rng);
  return v;
}

NewItem Item(std::string id, std::vector<float> vector,
             std::optional<std::string> metadata = std::nullopt) {
  return NewItem{std::move(id), std::move(vector), std::move(metadata)};
}

// What an index should hold: id -> (vector, metadata).
using Model = std::map<std::string, std::pair<std::vector<float>, std::optional<std::string>>>;

// One "process": storage and registry over the data directory.
struct Instance {
  std::unique_ptr<store::LocalObjectStore> objects;  // on the instance's FileSystem
  std::unique_ptr<BucketMirror> mirror;              // with a bucket only
  std::unique_ptr<IndexStorage> storage;
  std::unique_ptr<Registry> registry;
  IndexStorage::LoadReport report;
};

class IndexStorageTest : public ::testing::Test {
 protected:
  IndexStorageTest() : pool_(2) {}

  void SetUp() override {
    char pattern[] = "/tmp/vectord_storage_test.XXXXXX";
    char* dir = ::mkdtemp(pattern);
    ASSERT_NE(dir, nullptr);
    dir_ = dir;
    auto objects = store::LocalObjectStore::OpenRoot(dir_, /*sync=*/false);
    ASSERT_TRUE(objects.ok()) << objects.status().ToString();
    objects_ = std::move(objects).value();
  }

  void TearDown() override {
    instance_.reset();
    objects_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  StorageOptions Options() const {
    StorageOptions options;
    options.data_dir = dir_;
    options.vector_directory = dir_;
    options.fsync_always = true;
    options.checkpoint_bytes = uint64_t{1} << 40;  // only explicit checkpoints
    return options;
  }

  // Ends the current instance (no checkpoint, like a crash of the process)
  // and starts a new one that loads everything from disk. Every file of the
  // new instance goes through `fs`; `sync` turns on the fsyncs of whole-file
  // publishes (snapshots, params), which most tests skip for speed.
  Instance& Restart(StorageOptions options, store::FileSystem* fs = store::PosixFileSystem(),
                    bool sync = false) {
    instance_.reset();
    instance_ = std::make_unique<Instance>();
    auto objects = store::LocalObjectStore::OpenRoot(dir_, sync, fs);
    EXPECT_TRUE(objects.ok()) << objects.status().ToString();
    instance_->objects = std::move(objects).value();
    instance_->storage =
        std::make_unique<IndexStorage>(instance_->objects.get(), std::move(options));
    instance_->registry = std::make_unique<Registry>(&pool_);
    instance_->registry->SetVectorDirectory(dir_);
    instance_->registry->SetPersistence(instance_->storage.get());
    instance_->report = survey_only_ ? instance_->storage->Survey(*instance_->registry)
                                     : instance_->storage->LoadAll(*instance_->registry, &pool_);
    return *instance_;
  }
  Instance& Restart() { return Restart(Options()); }
  // The server's start-up: indexes registered unloaded, each loaded on first
  // use.
  Instance& RestartLazily(StorageOptions options) {
    survey_only_ = true;
    Instance& instance = Restart(std::move(options));
    survey_only_ = false;
    return instance;
  }

  Registry& registry() { return *instance_->registry; }
  IndexStorage& storage() { return *instance_->storage; }

  std::shared_ptr<Index> Create(const std::string& name, int64_t dimension,
                                const std::string& distance = "euclidean", int64_t m = 0,
                                int64_t ef_search = 0, int64_t ef_construction = 0,
                                const std::string& quantization = "") {
    CreateSpec spec;
    spec.name = name;
    spec.dimension = dimension;
    spec.distance = distance;
    spec.m = m;
    spec.ef_search = ef_search;
    spec.ef_construction = ef_construction;
    spec.quantization = quantization;
    auto index = registry().Create(spec);
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? *index : nullptr;
  }

  // One logged upsert of `items`, mirrored into `model`.
  void Add(const std::shared_ptr<Index>& index, std::vector<NewItem> items, Model* model,
           Durability durability = Durability::kDefault) {
    auto result = registry().Add(index, items, durability);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    for (NewItem& item : items) (*model)[item.id] = {item.vector, item.metadata};
  }
  // `count` random items "<prefix><i>" in one batch; some with metadata.
  void AddRandom(const std::shared_ptr<Index>& index, size_t count, uint32_t seed,
                 const std::string& prefix, Model* model) {
    std::mt19937 rng(seed);
    std::vector<NewItem> items;
    for (size_t i = 0; i < count; ++i) {
      NewItem item = Item(prefix + std::to_string(i), RandomVector(rng, index->params().dimension));
      if (i % 2 == 0) item.metadata = "{\"i\":" + std::to_string(i) + ",\"tag\":\"t\"}";
      if (i % 7 == 0) item.metadata = "null";
      items.push_back(std::move(item));
    }
    Add(index, std::move(items), model);
  }
  void Remove(const std::shared_ptr<Index>& index, std::vector<std::string> ids, Model* model) {
    auto result = registry().Remove(index, ids);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    for (const std::string& id : ids) model->erase(id);
  }

  static void ExpectHolds(const Index& index, const Model& model) {
    EXPECT_EQ(index.size(), model.size()) << index.params().name;
    for (const auto& [id, value] : model) {
      auto got = index.engine().Get(id);
      ASSERT_TRUE(got.has_value()) << index.params().name << ": missing " << id;
      const bool cosine = index.params().metric == engine::Metric::kCosine;
      ASSERT_EQ(got->vector.size(), value.first.size()) << id;
      for (size_t d = 0; d < value.first.size(); ++d) {
        if (cosine) {
          EXPECT_NEAR(got->vector[d], value.first[d], 1e-5f) << id;
        } else {
          EXPECT_EQ(got->vector[d], value.first[d]) << id;
        }
      }
      EXPECT_EQ(got->payload, value.second) << id;
    }
  }

  std::string Path(const std::string& relative) const { return dir_ + "/" + relative; }
  std::string JsonPath(const std::string& name) const { return Path("_vectors/" + name + ".json"); }
  std::string HnswPath(const std::string& name) const { return Path("_vectors/" + name + ".hnsw"); }
  std::string WalPath(const std::string& name) const { return Path("_vectors/" + name + ".wal"); }
  // Segment file names of an index's log, sorted.
  std::vector<std::string> Segments(const std::string& name) const {
    std::vector<std::string> names;
    if (!fs::exists(WalPath(name))) return names;
    for (const auto& entry : fs::directory_iterator(WalPath(name))) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string LastSegmentPath(const std::string& name) const {
    std::vector<std::string> names = Segments(name);
    return names.empty() ? "" : WalPath(name) + "/" + names.back();
  }

  std::string dir_;
  bool survey_only_ = false;
  ThreadPool pool_;
  std::unique_ptr<store::LocalObjectStore> objects_;
  std::unique_ptr<Instance> instance_;
};

TEST(IndexStorageKeys, Layout) {
  EXPECT_EQ(IndexStorage::ParamsKey("docs"), "_vectors/docs.json");
  EXPECT_EQ(IndexStorage::SnapshotKey("docs"), "_vectors/docs.hnsw");
  EXPECT_EQ(IndexStorage::SnapshotKey("v1.2"), "_vectors/v1.2.hnsw");
}

size_t OpenDescriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Descriptors do not grow with the number of indexes: 200 indexes, each
// written, checkpointed and written again, then restarted, with at most 8
// log segments open; every write survives the restart.
TEST_F(IndexStorageTest, LogDescriptorsStayBoundedOverManyIndexes) {
  StorageOptions options = Options();
  options.max_open_log_files = 8;
  Restart(options);
  const size_t before = OpenDescriptors();
  std::map<std::string, Model> models;
  for (int i = 0; i < 200; ++i) {
    const std::string name = "tenant-" + std::to_string(i);
    auto index = Create(name, 3);
    ASSERT_NE(index, nullptr);
    Add(index, {Item("a", {1, 2, float(i)})}, &models[name]);
    if (i % 50 == 0) {
      ASSERT_TRUE(storage().Checkpoint(index).ok());
    }
    ASSERT_LE(OpenDescriptors(), before + 8 + 1) << "after index " << i;
  }
  EXPECT_LE(storage().stats().open_log_files, 8u);
  EXPECT_GE(storage().stats().parked_log_files, 190u);
  // Writes to indexes whose logs were closed long ago reopen them.
  for (int i = 0; i < 200; i += 7) {
    const std::string name = "tenant-" + std::to_string(i);
    Add(registry().Find(name), {Item("b", {float(i), 0, 1})}, &models[name]);
  }
  ASSERT_LE(OpenDescriptors(), before + 8 + 1);
  Restart(options);
  EXPECT_EQ(instance_->report.loaded, 200u);
  EXPECT_LE(storage().stats().open_log_files, 8u);
  for (const auto& [name, model] : models) {
    auto index = registry().Find(name);
    ASSERT_NE(index, nullptr) << name;
    ExpectHolds(*index, model);
  }
}

// Start-up reads no index: every one is registered unloaded and loads on
// first use, once, with everything it held.
TEST_F(IndexStorageTest, StartUpRegistersIndexesUnloadedAndTheFirstUseLoadsThem) {
  Restart();
  std::map<std::string, Model> models;
  for (int i = 0; i < 30; ++i) {
    const std::string name = "t" + std::to_string(i);
    auto index = Create(name, 4);
    ASSERT_NE(index, nullptr);
    AddRandom(index, 20, i, "a", &models[name]);
    if (i % 3 == 0) {
      ASSERT_TRUE(storage().Checkpoint(index).ok());
    }
    AddRandom(index, 5, 100 + i, "b", &models[name]);  // after the snapshot: replayed
  }
  RestartLazily(Options());
  EXPECT_EQ(instance_->report.indexes, 30u);
  EXPECT_EQ(registry().count(), 30u);
  EXPECT_EQ(registry().Names().size(), 30u);
  EXPECT_TRUE(registry().All().empty());
  EXPECT_EQ(registry().loading_stats().loaded_indexes, 0u);
  EXPECT_EQ(registry().FindLoaded("t0"), nullptr);
  auto summary = registry().Describe("t4");
  ASSERT_TRUE(summary.has_value());
  EXPECT_FALSE(summary->loaded);
  EXPECT_FALSE(summary->items.has_value());  // not loaded since start-up
  auto params = registry().StoredParams("t4");
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  EXPECT_EQ(params->dimension, 4u);

  // Eight callers at once: one load, the same index for all.
  std::vector<std::shared_ptr<Index>> got(8);
  {
    std::vector<std::thread> threads;
    for (size_t t = 0; t < got.size(); ++t) {
      threads.emplace_back([&, t] { got[t] = registry().Find("t7"); });
    }
    for (auto& thread : threads) thread.join();
  }
  for (const auto& index : got) {
    EXPECT_EQ(index, got[0]);
  }
  ASSERT_NE(got[0], nullptr);
  EXPECT_EQ(registry().loading_stats().loads, 1u);
  EXPECT_EQ(registry().loading_stats().loaded_indexes, 1u);
  for (const auto& [name, model] : models) {
    auto index = registry().Open(name);
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    ExpectHolds(**index, model);
  }
  EXPECT_EQ(registry().loading_stats().loads, 30u);
  EXPECT_EQ(registry().Open("nope").status().code(), StatusCode::kNotFound);
}

// An unloaded index keeps every acknowledged write: it is checkpointed as it
// goes, reloads from its snapshot, takes writes again, and survives a crash.
TEST_F(IndexStorageTest, UnloadCheckpointsAndTheNextUseReloadsEverything) {
  Restart();
  Model model;
  auto docs = Create("docs", 4);
  ASSERT_NE(docs, nullptr);
  AddRandom(docs, 50, 1, "a", &model);
  Remove(docs, {"a3", "a4"}, &model);
  EXPECT_FALSE(registry().Unload("docs"));  // `docs` is held here: in use
  docs.reset();
  ASSERT_TRUE(registry().Unload("docs"));
  EXPECT_EQ(registry().FindLoaded("docs"), nullptr);
  EXPECT_TRUE(fs::exists(HnswPath("docs")));
  auto summary = registry().Describe("docs");
  ASSERT_TRUE(summary.has_value());
  EXPECT_FALSE(summary->loaded);
  EXPECT_EQ(summary->items, std::optional<size_t>(48));
  EXPECT_EQ(registry().loading_stats().evictions, 1u);
  EXPECT_EQ(storage().stats().open_log_files, 0u);  // its log is closed

  docs = registry().Find("docs");
  ASSERT_NE(docs, nullptr);
  ExpectHolds(*docs, model);
  EXPECT_EQ(storage().stats().replayed_records, 0u);  // a snapshot read, no replay
  AddRandom(docs, 10, 2, "b", &model);
  docs.reset();
  ASSERT_TRUE(registry().Unload("docs"));
  ASSERT_TRUE(registry().Unload("docs") == false);  // already unloaded
  docs = registry().Find("docs");
  AddRandom(docs, 10, 3, "c", &model);  // only in the log
  docs.reset();
  RestartLazily(Options());  // a crash: no final checkpoint
  docs = registry().Find("docs");
  ASSERT_NE(docs, nullptr);
  ExpectHolds(*docs, model);
}

// Memory that runs out while a logged write is being applied leaves part of
// it in the engine. The write is cancelled in the log, the answer is 507,
// the index is never checkpointed in that state, and its next use gets a
// copy rebuilt from snapshot and log: without the write, as answered.
TEST_F(IndexStorageTest, AWriteThatFailsWhileApplyingIsCancelledAndTheIndexRebuilt) {
  Restart();
  Model model;
  auto docs = Create("docs", 4);
  ASSERT_NE(docs, nullptr);
  AddRandom(docs, 30, 1, "a", &model);
  ASSERT_TRUE(storage().Checkpoint(docs).ok());
  AddRandom(docs, 20, 2, "b", &model);  // only in the log

  docs->engine().FailNextUpsertPartWayForTesting();
  std::mt19937 rng(3);
  std::vector<NewItem> failed;
  for (int i = 0; i < 10; ++i)
    failed.push_back(Item("x" + std::to_string(i), RandomVector(rng, 4)));
  auto result = registry().Add(docs, failed, Durability::kDefault);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNoSpace) << result.status().ToString();
  EXPECT_NE(result.status().message().find("cancelled"), std::string::npos)
      << result.status().message();
  EXPECT_TRUE(docs->diverged());
  EXPECT_FALSE(storage().Checkpoint(docs).ok());  // never saved in that state

  // The next use waits for the holders of the diverged copy to let go.
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    docs.reset();
  });
  auto reopened = registry().Open("docs");
  release.join();
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  docs = *reopened;
  EXPECT_FALSE(docs->diverged());
  ExpectHolds(*docs, model);
  EXPECT_FALSE(docs->engine().Get("x0").has_value());

  AddRandom(docs, 10, 4, "c", &model);  // writes go on after the cancel record
  ExpectHolds(*docs, model);
  docs.reset();
  RestartLazily(Options());  // a crash: the log replays without the failed write
  docs = registry().Find("docs");
  ASSERT_NE(docs, nullptr);
  ExpectHolds(*docs, model);
  EXPECT_FALSE(docs->engine().Get("x0").has_value());
}

// A drop of an unloaded index removes it like a loaded one's; a damaged
// index found at its first use becomes a failed index, as at start-up.
TEST_F(IndexStorageTest, DropOfAnUnloadedIndexAndDamageFoundAtFirstUse) {
  Restart();
  Model model;
  for (const std::string name : {"gone", "damaged", "fine"}) {
    auto index = Create(name, 4);
    ASSERT_NE(index, nullptr);
    AddRandom(index, 10, 1, "a", &model);
    ASSERT_TRUE(storage().Checkpoint(index).ok());
  }
  {
    std::ofstream out(HnswPath("damaged"), std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(40);
    out.write("XXXXXXXX", 8);
  }
  RestartLazily(Options());
  EXPECT_TRUE(registry().Failed().empty());  // nothing read yet
  ASSERT_TRUE(registry().Drop("gone").ok());
  EXPECT_FALSE(registry().Contains("gone"));
  EXPECT_FALSE(fs::exists(JsonPath("gone")));
  EXPECT_FALSE(fs::exists(HnswPath("gone")));
  EXPECT_FALSE(fs::exists(WalPath("gone")));

  auto damaged = registry().Open("damaged");
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(damaged.status().message().find("index failed to load: "), std::string::npos)
      << damaged.status().ToString();
  EXPECT_NE(damaged.status().message().find("damaged.hnsw"), std::string::npos);
  ASSERT_EQ(registry().Failed().size(), 1u);
  EXPECT_EQ(registry().Failed()[0].name, "damaged");
  EXPECT_FALSE(registry().Contains("damaged"));
  EXPECT_TRUE(fs::exists(HnswPath("damaged")));  // kept as it is
  EXPECT_EQ(registry().loading_stats().load_failures, 1u);
  ASSERT_NE(registry().Find("fine"), nullptr);
}

// With a memory limit the least recently used indexes are unloaded, the
// recently used ones stay, and an index in use is never unloaded.
TEST_F(IndexStorageTest, MemoryLimitUnloadsTheLeastRecentlyUsed) {
  Restart();
  std::map<std::string, Model> models;
  for (int i = 0; i < 10; ++i) {
    const std::string name = "t" + std::to_string(i);
    auto index = Create(name, 16);
    ASSERT_NE(index, nullptr);
    AddRandom(index, 200, i, "a", &models[name]);
  }
  const size_t each = registry().FindLoaded("t0")->budget_bytes();
  ASSERT_GT(each, 16u * 200 * 4);
  EXPECT_GE(registry().loading_stats().loaded_bytes, 10 * each);
  // Used last, most recent first: t9, t8, t7; t0 is held.
  auto held = registry().Find("t0");
  for (const char* name : {"t7", "t8", "t9"}) ASSERT_NE(registry().Find(name), nullptr);
  const size_t unloaded = registry().UnloadDownTo(4 * each + each / 2);
  EXPECT_EQ(unloaded, 6u);
  for (const char* name : {"t0", "t7", "t8", "t9"}) {
    EXPECT_NE(registry().FindLoaded(name), nullptr) << name;
  }
  EXPECT_EQ(registry().loading_stats().loaded_indexes, 4u);
  EXPECT_LE(registry().loading_stats().loaded_bytes, 4 * each + each / 2);
  held.reset();

  // The unloading thread does the same on its own after a load or a write.
  registry().StartUnloading(3 * each + each / 2);
  for (int i = 0; i < 10; ++i) {
    const std::string name = "t" + std::to_string(i);
    auto index = registry().Find(name);
    ASSERT_NE(index, nullptr);
    AddRandom(index, 3, 50 + i, "b", &models[name]);
  }
  EXPECT_TRUE(WaitFor([&] { return registry().loading_stats().loaded_indexes <= 3; }))
      << registry().loading_stats().loaded_indexes;
  EXPECT_NE(registry().FindLoaded("t9"), nullptr);  // the last used stays
  registry().StopBackground();
  for (const auto& [name, model] : models) ExpectHolds(*registry().Find(name), model);
}

// The background loader after start-up (every index, as with a bucket) is
// kept under the limit too, though nothing has been used yet.
TEST_F(IndexStorageTest, BackgroundLoadingStaysUnderTheLimit) {
  Restart();
  std::map<std::string, Model> models;
  for (int i = 0; i < 12; ++i) {
    const std::string name = "t" + std::to_string(i);
    auto index = Create(name, 16);
    ASSERT_NE(index, nullptr);
    AddRandom(index, 100, i, "a", &models[name]);
  }
  const size_t each = registry().FindLoaded("t0")->budget_bytes();
  RestartLazily(Options());
  registry().StartUnloading(3 * each + each / 2);
  registry().StartBackgroundLoading(registry().Names(), 0);
  EXPECT_TRUE(WaitFor([&] { return registry().loading_stats().loads == 12; }));
  EXPECT_TRUE(WaitFor([&] { return registry().loading_stats().loaded_indexes <= 3; }))
      << registry().loading_stats().loaded_indexes;
  registry().StopBackground();
  EXPECT_GE(registry().loading_stats().evictions, 9u);
  for (const auto& [name, model] : models) ExpectHolds(*registry().Find(name), model);
}

// Loads, unloads, writes and searches at once over a few indexes with a
// limit that holds about two of them (run under ThreadSanitizer in CI):
// every acknowledged write is there at the end, and after a crash.
TEST_F(IndexStorageTest, ChurnUnderATightMemoryLimitLosesNothing) {
  Restart();
  constexpr int kIndexes = 6, kThreads = 4, kRounds = 40;
  for (int i = 0; i < kIndexes; ++i) ASSERT_NE(Create("c" + std::to_string(i), 8), nullptr);
  const size_t limit = 2 * registry().FindLoaded("c0")->budget_bytes() + 4096;
  registry().StartUnloading(limit);
  std::vector<std::map<std::string, Model>> models(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int r = 0; r < kRounds; ++r) {
        const std::string name = "c" + std::to_string(rng() % kIndexes);
        auto index = registry().Open(name);
        if (!index.ok()) {
          ++failures;
          continue;
        }
        std::vector<NewItem> items;
        for (int k = 0; k < 5; ++k) {
          items.push_back(Item("w" + std::to_string(t) + "-" + std::to_string(r * 5 + k),
                               RandomVector(rng, 8)));
        }
        if (!registry().Add(*index, items).ok()) ++failures;
        for (NewItem& item : items) models[t][name][item.id] = {item.vector, item.metadata};
        SearchSpec search;
        search.vector = RandomVector(rng, 8);
        if (!(*index)->Search(search).ok()) ++failures;
        if (r % 8 == 0) registry().Unload("c" + std::to_string(rng() % kIndexes));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  registry().StopBackground();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(registry().loading_stats().evictions, 0u);
  EXPECT_GT(registry().loading_stats().loads, 0u);
  auto check = [&] {
    for (int i = 0; i < kIndexes; ++i) {
      const std::string name = "c" + std::to_string(i);
      Model all;
      for (const auto& per_thread : models) {
        if (auto it = per_thread.find(name); it != per_thread.end()) {
          all.insert(it->second.begin(), it->second.end());
        }
      }
      auto index = registry().Find(name);
      ASSERT_NE(index, nullptr) << name;
      ExpectHolds(*index, all);
    }
  };
  check();
  RestartLazily(Options());
  check();
}

TEST_F(IndexStorageTest, LayoutOfANewIndex) {
  Restart();
  EXPECT_EQ(instance_->report.loaded, 0u);
  EXPECT_EQ(instance_->report.failed, 0u);
  auto docs = Create("docs", 4);
  ASSERT_NE(docs, nullptr);
  EXPECT_NE(docs->log(), nullptr);
  EXPECT_EQ(storage().LogDirectory("docs"), WalPath("docs"));
  EXPECT_TRUE(fs::exists(JsonPath("docs")));
  EXPECT_FALSE(fs::exists(HnswPath("docs")));  // no snapshot until a checkpoint
  EXPECT_EQ(Segments("docs"), std::vector<std::string>{store::LogWriter::SegmentName(1)});
  const std::string json = ReadFile(JsonPath("docs"));
  EXPECT_NE(json.find("\"dimension\":4"), std::string::npos) << json;
  EXPECT_NE(json.find("\"distance\":\"euclidean\""), std::string::npos) << json;
}

TEST_F(IndexStorageTest, ReplayWithoutCheckpointRestoresEverything) {
  Restart();
  auto docs = Create("docs", 8, "euclidean", /*m=*/8, /*ef_search=*/33, /*ef_construction=*/50);
  auto other = Create("other", 3, "cosine");
  auto empty = Create("empty", 5, "dot");
  ASSERT_TRUE(docs && other && empty);
  Model docs_model, other_model;
  AddRandom(docs, 60, 1, "item-", &docs_model);
  AddRandom(docs, 20, 2, "more-", &docs_model);
  // Upserts replace vector and metadata; the last occurrence in a batch wins.
  Add(docs,
      {Item("item-3", {1, 2, 3, 4, 5, 6, 7, 8}, "\"replaced\""),
       Item("item-4", {0, 0, 0, 0, 0, 0, 0, 1}),
       Item("item-3", {8, 7, 6, 5, 4, 3, 2, 1}, "{\"last\":true}")},
      &docs_model);
  // Deletes, including ids that do not exist.
  Remove(docs, {"item-0", "item-1", "more-5", "absent"}, &docs_model);
  // Deleted, then back with other values.
  Add(docs, {Item("item-1", {9, 9, 9, 9, 9, 9, 9, 9}, "\"back\"")}, &docs_model);
  AddRandom(other, 10, 3, "o-", &other_model);
  Remove(other, {"o-2"}, &other_model);
  const size_t records = 7;  // the logged writes above
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_FALSE(fs::exists(HnswPath("docs")));
  EXPECT_FALSE(fs::exists(HnswPath("other")));

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 3u);
  EXPECT_EQ(next.report.failed, 0u);
  EXPECT_EQ(next.registry->Names(), (std::vector<std::string>{"docs", "empty", "other"}));
  EXPECT_EQ(next.storage->stats().replayed_records, records);

  auto docs2 = next.registry->Find("docs");
  ASSERT_NE(docs2, nullptr);
  EXPECT_EQ(docs2->params().dimension, 8u);
  EXPECT_EQ(docs2->params().m, 8u);
  EXPECT_EQ(docs2->params().ef_search, 33u);
  EXPECT_EQ(docs2->params().ef_construction, 50u);
  EXPECT_EQ(docs2->params().metric, engine::Metric::kEuclidean);
  EXPECT_EQ(docs2->engine().options().m, 8u);
  ExpectHolds(*docs2, docs_model);
  EXPECT_FALSE(docs2->engine().Contains("item-0"));
  EXPECT_FALSE(docs2->engine().Contains("more-5"));
  EXPECT_EQ(docs2->engine().Get("item-3")->payload, std::optional<std::string>("{\"last\":true}"));

  auto other2 = next.registry->Find("other");
  ASSERT_NE(other2, nullptr);
  EXPECT_EQ(other2->params().metric, engine::Metric::kCosine);
  ExpectHolds(*other2, other_model);
  auto empty2 = next.registry->Find("empty");
  ASSERT_NE(empty2, nullptr);
  EXPECT_EQ(empty2->size(), 0u);
  EXPECT_EQ(empty2->params().metric, engine::Metric::kDot);

  // The recovered index searches: a stored vector finds itself first.
  SearchSpec spec;
  spec.vector = docs_model.at("more-7").first;
  spec.k = 3;
  auto results = docs2->Search(spec);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_FALSE(results->empty());
  EXPECT_EQ((*results)[0].id, "more-7");

  // And it takes writes that survive the next restart too.
  Add(docs2, {Item("after", {1, 1, 1, 1, 1, 1, 1, 1})}, &docs_model);
  Instance& third = Restart();
  EXPECT_EQ(third.report.loaded, 3u);
  ASSERT_NE(third.registry->Find("docs"), nullptr);
  ExpectHolds(*third.registry->Find("docs"), docs_model);
}

TEST_F(IndexStorageTest, CheckpointThenLaterWritesReplaysOnlyThose) {
  Restart();
  auto docs = Create("docs", 4);
  ASSERT_NE(docs, nullptr);
  Model model;
  AddRandom(docs, 30, 1, "a-", &model);
  AddRandom(docs, 30, 2, "b-", &model);
  Remove(docs, {"a-1", "b-2"}, &model);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(docs->applied_sequence(), 3u);

  ASSERT_TRUE(storage().Checkpoint(docs).ok());
  StorageStats stats = storage().stats();
  EXPECT_EQ(stats.checkpoints, 1u);
  EXPECT_GT(stats.snapshot_bytes, 0u);
  EXPECT_EQ(stats.checkpoint_failures, 0u);
  ASSERT_TRUE(fs::exists(HnswPath("docs")));
  EXPECT_EQ(stats.snapshot_bytes, fs::file_size(HnswPath("docs")));
  {
    // The snapshot is tagged with the last record it holds.
    auto reader = objects_->Open(IndexStorage::SnapshotKey("docs"));
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    uint64_t tag = 0;
    auto loaded = engine::HnswIndex::Load(**reader, &tag);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(tag, 3u);
    EXPECT_EQ((*loaded)->size(), model.size());
  }
  // Nothing new: no second snapshot.
  ASSERT_TRUE(storage().Checkpoint(docs).ok());
  EXPECT_EQ(storage().stats().checkpoints, 1u);

  // Two more records after the snapshot.
  Add(docs, {Item("a-3", {7, 7, 7, 7}, "\"changed\""), Item("c-0", {1, 2, 3, 4})}, &model);
  Remove(docs, {"b-5", "a-4"}, &model);
  ASSERT_FALSE(HasFatalFailure());

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_EQ(next.report.failed, 0u);
  EXPECT_EQ(next.storage->stats().replayed_records, 2u);
  auto docs2 = next.registry->Find("docs");
  ASSERT_NE(docs2, nullptr);
  ExpectHolds(*docs2, model);
  EXPECT_EQ(docs2->applied_sequence(), 5u);

  // A checkpoint after recovery, then nothing to replay.
  ASSERT_TRUE(next.storage->Checkpoint(docs2).ok());
  Instance& third = Restart();
  EXPECT_EQ(third.report.loaded, 1u);
  EXPECT_EQ(third.storage->stats().replayed_records, 0u);
  ExpectHolds(*third.registry->Find("docs"), model);
}

TEST_F(IndexStorageTest, CheckpointDropsCoveredSegments) {
  Restart();
  auto docs = Create("docs", 3);
  ASSERT_NE(docs, nullptr);
  Model model;
  using store::LogWriter;
  EXPECT_EQ(Segments("docs"), std::vector<std::string>{LogWriter::SegmentName(1)});
  for (uint32_t i = 0; i < 3; ++i) AddRandom(docs, 5, i, "r" + std::to_string(i) + "-", &model);
  EXPECT_EQ(Segments("docs"), std::vector<std::string>{LogWriter::SegmentName(1)});

  ASSERT_TRUE(storage().Checkpoint(docs).ok());
  // The rotation started segment 4; segment 1 (records 1..3) is covered.
  EXPECT_EQ(Segments("docs"), std::vector<std::string>{LogWriter::SegmentName(4)});
  EXPECT_EQ(fs::file_size(WalPath("docs") + "/" + LogWriter::SegmentName(4)),
            store::log_format::kSegmentHeaderSize);

  AddRandom(docs, 5, 10, "s-", &model);
  Remove(docs, {"r0-1"}, &model);
  EXPECT_EQ(Segments("docs"), std::vector<std::string>{LogWriter::SegmentName(4)});
  ASSERT_TRUE(storage().Checkpoint(docs).ok());
  EXPECT_EQ(Segments("docs"), std::vector<std::string>{LogWriter::SegmentName(6)});
  EXPECT_EQ(storage().stats().checkpoints, 2u);

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_EQ(next.storage->stats().replayed_records, 0u);
  ExpectHolds(*next.registry->Find("docs"), model);
}

TEST_F(IndexStorageTest, CheckpointAllSavesEveryWrittenIndex) {
  Restart();
  auto a = Create("a", 2);
  auto b = Create("b", 3);
  auto untouched = Create("untouched", 2);
  ASSERT_TRUE(a && b && untouched);
  Model ma, mb;
  AddRandom(a, 10, 1, "x", &ma);
  AddRandom(b, 10, 2, "y", &mb);
  Remove(b, {"y1"}, &mb);
  ASSERT_TRUE(storage().CheckpointAll().ok());
  EXPECT_EQ(storage().stats().checkpoints, 2u);
  EXPECT_TRUE(fs::exists(HnswPath("a")));
  EXPECT_TRUE(fs::exists(HnswPath("b")));

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 3u);
  EXPECT_EQ(next.storage->stats().replayed_records, 0u);
  ExpectHolds(*next.registry->Find("a"), ma);
  ExpectHolds(*next.registry->Find("b"), mb);
  EXPECT_EQ(next.registry->Find("untouched")->size(), 0u);
}

TEST_F(IndexStorageTest, DropRemovesEverythingAndRecreateStartsEmpty) {
  Restart();
  auto docs = Create("docs", 4);
  auto keep = Create("keep", 2);
  ASSERT_TRUE(docs && keep);
  Model model, keep_model;
  AddRandom(docs, 10, 1, "a", &model);
  ASSERT_TRUE(storage().Checkpoint(docs).ok());
  AddRandom(docs, 10, 2, "b", &model);  // in the log, after the snapshot
  AddRandom(keep, 4, 3, "k", &keep_model);
  ASSERT_TRUE(fs::exists(JsonPath("docs")));
  ASSERT_TRUE(fs::exists(HnswPath("docs")));
  ASSERT_FALSE(Segments("docs").empty());

  ASSERT_TRUE(registry().Drop("docs").ok());
  EXPECT_TRUE(docs->dropped());
  EXPECT_FALSE(fs::exists(JsonPath("docs")));
  EXPECT_FALSE(fs::exists(HnswPath("docs")));
  EXPECT_FALSE(fs::exists(WalPath("docs")));
  // A checkpoint of the dropped index writes nothing.
  ASSERT_TRUE(storage().Checkpoint(docs).ok());
  EXPECT_FALSE(fs::exists(HnswPath("docs")));
  EXPECT_TRUE(fs::exists(JsonPath("keep")));

  // Gone after a restart too.
  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_EQ(next.registry->Find("docs"), nullptr);
  ExpectHolds(*next.registry->Find("keep"), keep_model);

  // The same name again, with another dimension: it starts empty.
  auto again = Create("docs", 2);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->size(), 0u);
  EXPECT_EQ(Segments("docs"), std::vector<std::string>{store::LogWriter::SegmentName(1)});
  Model fresh;
  Add(again, {Item("only", {1, 2}, "\"new\"")}, &fresh);
  Instance& third = Restart();
  EXPECT_EQ(third.report.loaded, 2u);
  EXPECT_EQ(third.report.failed, 0u);
  auto docs3 = third.registry->Find("docs");
  ASSERT_NE(docs3, nullptr);
  EXPECT_EQ(docs3->params().dimension, 2u);
  ExpectHolds(*docs3, fresh);
}

TEST_F(IndexStorageTest, LoadAllRemovesLeftoversAndKeepsDataWithoutParams) {
  Restart();
  auto docs = Create("docs", 2);
  ASSERT_NE(docs, nullptr);
  Model model;
  AddRandom(docs, 5, 1, "d", &model);
  instance_.reset();

  // A create that died before its params file: a log with no record.
  {
    auto log = store::LogWriter::Open(store::PosixFileSystem(), WalPath("unborn"), 2, 1, nullptr);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
  }
  // A drop cut short after its commit point (the params file renamed).
  WriteFile(JsonPath("dropped") + ".dropping", "{}");
  WriteFile(HnswPath("dropped"), "stale");
  {
    auto log = store::LogWriter::Open(store::PosixFileSystem(), WalPath("dropped"), 3, 1, nullptr);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE((*log)->Append(store::log_format::RecordType::kDelete, std::string(4, '\0')).ok());
  }
  // Data whose params file is gone: a log with a record, a snapshot, both.
  // Nothing says it was dropped, so it is kept and reported.
  {
    auto log = store::LogWriter::Open(store::PosixFileSystem(), WalPath("ghost"), 2, 1, nullptr);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE((*log)->Append(store::log_format::RecordType::kDelete, std::string(4, '\0')).ok());
  }
  WriteFile(HnswPath("orphan"), "not even a snapshot");

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_EQ(next.report.failed, 2u);
  EXPECT_EQ(next.registry->Names(), std::vector<std::string>{"docs"});
  EXPECT_FALSE(fs::exists(WalPath("unborn")));
  EXPECT_FALSE(fs::exists(HnswPath("dropped")));
  EXPECT_FALSE(fs::exists(WalPath("dropped")));
  EXPECT_FALSE(fs::exists(JsonPath("dropped") + ".dropping"));
  EXPECT_TRUE(fs::exists(WalPath("ghost")));
  EXPECT_TRUE(fs::exists(HnswPath("orphan")));
  const auto failed = next.registry->Failed();
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].name, "ghost");
  EXPECT_EQ(failed[1].name, "orphan");
  EXPECT_NE(failed[1].error.find("orphan.json: missing"), std::string::npos) << failed[1].error;
  // The real index and its files are untouched.
  ExpectHolds(*next.registry->Find("docs"), model);
  EXPECT_TRUE(fs::exists(JsonPath("docs")));
  EXPECT_FALSE(Segments("docs").empty());
}

// An index that fails to load keeps its name and its files: a create of the
// name is refused (the create would clear the files), and a drop moves them
// to the quarantine folder instead of deleting them.
TEST_F(IndexStorageTest, AFailedIndexIsKeptRefusesCreateAndIsQuarantinedOnDrop) {
  Restart();
  auto bad = Create("bad", 3);
  ASSERT_NE(bad, nullptr);
  Model model;
  AddRandom(bad, 20, 7, "b", &model);
  ASSERT_TRUE(storage().Checkpoint(bad).ok());
  auto good = Create("good", 3);
  ASSERT_NE(good, nullptr);
  bad.reset();
  good.reset();
  instance_.reset();

  // One flipped byte in the middle of the snapshot.
  std::string snapshot = ReadFile(HnswPath("bad"));
  ASSERT_GT(snapshot.size(), 600u);
  snapshot[snapshot.size() / 2] = static_cast<char>(snapshot[snapshot.size() / 2] ^ 0x5a);
  WriteFile(HnswPath("bad"), snapshot);

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_EQ(next.report.failed, 1u);
  EXPECT_EQ(next.registry->Names(), std::vector<std::string>{"good"});
  ASSERT_EQ(next.registry->Failed().size(), 1u);
  const std::string error = next.registry->Failed()[0].error;
  EXPECT_NE(error.find("_vectors/bad.hnsw"), std::string::npos) << error;
  EXPECT_EQ(next.registry->FailureOf("bad"), error);
  EXPECT_FALSE(next.registry->FailureOf("good").has_value());

  CreateSpec spec;
  spec.name = "bad";
  spec.dimension = 3;
  auto created = registry().Create(spec);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(created.status().message(), "index failed to load: " + error);
  EXPECT_EQ(ReadFile(HnswPath("bad")), snapshot) << "the refused create touched the snapshot";
  EXPECT_TRUE(fs::exists(JsonPath("bad")));
  const std::vector<std::string> segments = Segments("bad");

  ASSERT_TRUE(registry().Drop("bad").ok());
  EXPECT_FALSE(registry().FailureOf("bad").has_value());
  EXPECT_FALSE(fs::exists(JsonPath("bad")));
  EXPECT_FALSE(fs::exists(HnswPath("bad")));
  EXPECT_FALSE(fs::exists(WalPath("bad")));
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(Path("_quarantine"))) folders.push_back(entry);
  ASSERT_EQ(folders.size(), 1u);
  EXPECT_EQ(folders[0].filename().string().rfind("bad.", 0), 0u) << folders[0];
  EXPECT_EQ(ReadFile((folders[0] / "bad.hnsw").string()), snapshot);
  EXPECT_TRUE(fs::exists(folders[0] / "bad.json"));
  for (const std::string& segment : segments) {
    EXPECT_TRUE(fs::exists(folders[0] / "bad.wal" / segment)) << segment;
  }

  // Quarantined files are never loaded again; the name is free.
  Instance& after = Restart();
  EXPECT_EQ(after.report.failed, 0u);
  EXPECT_TRUE(after.registry->Failed().empty());
  EXPECT_NE(Create("bad", 3), nullptr);
  EXPECT_EQ(after.registry->Find("good") != nullptr, true);
}

// A damaged log record: the index is failed, its log kept.
TEST_F(IndexStorageTest, ADamagedLogRecordFailsTheIndexAndKeepsItsLog) {
  Restart();
  auto docs = Create("docs", 3);
  ASSERT_NE(docs, nullptr);
  Model model;
  AddRandom(docs, 5, 1, "a", &model);
  AddRandom(docs, 5, 2, "b", &model);
  docs.reset();
  instance_.reset();
  std::string segment = ReadFile(LastSegmentPath("docs"));
  ASSERT_GT(segment.size(), 40u);
  segment[36] = static_cast<char>(segment[36] ^ 0x01);  // inside the first record's header
  WriteFile(LastSegmentPath("docs"), segment);

  Instance& next = Restart();
  EXPECT_EQ(next.report.failed, 1u);
  ASSERT_TRUE(next.registry->FailureOf("docs").has_value());
  EXPECT_NE(next.registry->FailureOf("docs")->find("checksum mismatch"), std::string::npos)
      << *next.registry->FailureOf("docs");
  EXPECT_EQ(ReadFile(LastSegmentPath("docs")), segment);
}

// Recovery keeps every record before the damage, says what it kept and
// lost, keeps the damaged files in quarantine, and leaves an index that
// takes writes and loads again after a restart.
TEST_F(IndexStorageTest, RecoverKeepsTheRecordsBeforeADamagedOne) {
  Restart();
  auto docs = Create("docs", 3);
  ASSERT_NE(docs, nullptr);
  Model before;
  AddRandom(docs, 6, 1, "a", &before);  // record 1
  Model lost = before;
  AddRandom(docs, 6, 2, "b", &lost);  // record 2: damaged below
  AddRandom(docs, 6, 3, "c", &lost);  // record 3: after the damage
  docs.reset();
  instance_.reset();
  const std::string segment_path = LastSegmentPath("docs");
  std::string segment = ReadFile(segment_path);
  // Record 2's header, found by its sequence (a u64 at offset 12 of a
  // record header) and type (upsert, 1, at offset 20).
  size_t second = std::string::npos;
  for (size_t at = 32; at + 21 <= segment.size(); ++at) {
    if (segment.compare(at + 12, 8, std::string("\x02\0\0\0\0\0\0\0", 8)) == 0 &&
        static_cast<uint8_t>(segment[at + 20]) == 1) {
      second = at;
      break;
    }
  }
  ASSERT_NE(second, std::string::npos);
  segment[second + 25] = static_cast<char>(segment[second + 25] ^ 0x40);  // in its payload
  WriteFile(segment_path, segment);

  Instance& next = Restart();
  ASSERT_TRUE(next.registry->FailureOf("docs").has_value());
  auto recovered = next.registry->Recover("docs");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  const RecoveryReport& report = recovered->report;
  EXPECT_EQ(report.items, before.size());
  EXPECT_EQ(report.records, 1u);
  EXPECT_EQ(report.first_record, 1u);
  EXPECT_EQ(report.last_record, 1u);
  EXPECT_EQ(report.snapshot_sequence, 0u);
  EXPECT_NE(report.log_error.find("checksum mismatch"), std::string::npos) << report.log_error;
  EXPECT_NE(report.Summary().find("kept: log records 1-1 (6 items); lost: the log from"),
            std::string::npos)
      << report.Summary();
  EXPECT_FALSE(next.registry->FailureOf("docs").has_value());
  auto index = next.registry->Find("docs");
  ASSERT_NE(index, nullptr);
  ExpectHolds(*index, before);
  // The damaged segment is kept, byte for byte, in the quarantine folder.
  const std::string kept =
      report.quarantine + "/docs.wal/" + segment_path.substr(segment_path.rfind('/') + 1);
  EXPECT_EQ(ReadFile(kept), segment);

  // Writes go on, and the recovered index loads after a restart.
  Model after = before;
  AddRandom(index, 4, 9, "z", &after);
  index.reset();
  Instance& again = Restart();
  EXPECT_EQ(again.report.failed, 0u);
  ASSERT_NE(again.registry->Find("docs"), nullptr);
  ExpectHolds(*again.registry->Find("docs"), after);
}

// A recover cut short at any step — each rename it makes, failing in turn,
// stands for a crash there — loses nothing more: after a restart the index
// is either served whole or still failed with its files as they were, and
// the next recover keeps every record the first would have.
TEST_F(IndexStorageTest, ARecoverCutShortAtAnyStepLosesNothingMore) {
  Restart();
  auto docs = Create("docs", 3);
  ASSERT_NE(docs, nullptr);
  Model kept;
  AddRandom(docs, 8, 1, "a", &kept);  // record 1
  ASSERT_TRUE(storage().Checkpoint(docs).ok());
  AddRandom(docs, 6, 2, "b", &kept);  // record 2
  Model lost = kept;
  AddRandom(docs, 6, 3, "c", &lost);  // record 3: damaged below
  AddRandom(docs, 6, 4, "d", &lost);  // record 4: after the damage
  docs.reset();
  instance_.reset();
  const std::string segment_path = LastSegmentPath("docs");
  std::string segment = ReadFile(segment_path);
  std::vector<size_t> starts = RecordStarts(segment);
  ASSERT_EQ(starts.size(), 4u);  // records 2 to 4, and the end
  segment[starts[1] + 30] = static_cast<char>(segment[starts[1] + 30] ^ 0x40);
  WriteFile(segment_path, segment);
  // The damaged state, restored before every attempt.
  const std::string pristine = dir_ + ".pristine";
  fs::remove_all(pristine);
  fs::copy(dir_, pristine, fs::copy_options::recursive);

  for (int step = 1;; ++step) {
    SCOPED_TRACE("recover cut short at rename " + std::to_string(step));
    instance_.reset();
    fs::remove_all(dir_);
    fs::copy(pristine, dir_, fs::copy_options::recursive);
    FaultInjectingFileSystem faulty;
    std::atomic<int> renames{0};
    faulty.SetFaultFilter([&](const std::string&) { return ++renames == step; });
    faulty.SetFailRename(true);
    Instance& crashed = Restart(Options(), &faulty, /*sync=*/true);
    ASSERT_TRUE(crashed.registry->FailureOf("docs").has_value());
    const bool cut_short = !crashed.registry->Recover("docs").ok();
    const bool reached = renames.load() >= step;

    Instance& next = Restart();
    if (next.registry->FailureOf("docs").has_value()) {
      ASSERT_TRUE(cut_short);
      auto again = next.registry->Recover("docs");
      ASSERT_TRUE(again.ok()) << again.status().ToString();
    }
    ASSERT_NE(next.registry->Find("docs"), nullptr);
    ExpectHolds(*next.registry->Find("docs"), kept);
    if (!reached) break;  // the whole recover ran below `step` renames
    ASSERT_LT(step, 40) << "more renames than a recover makes";
  }
  fs::remove_all(pristine);
}

// The four kinds of damage, each through the whole cycle: visible failed
// state, 409 on create, quarantine on delete, and a recover that keeps every
// record the damage did not take.
TEST_F(IndexStorageTest, EachKindOfDamageIsFailedRefusedQuarantinedAndRecovered) {
  enum class Damage { kCorruptSnapshot, kTruncatedSnapshot, kCorruptLogRecord, kMissingParams };
  for (Damage damage : {Damage::kCorruptSnapshot, Damage::kTruncatedSnapshot,
                        Damage::kCorruptLogRecord, Damage::kMissingParams}) {
    SCOPED_TRACE("damage " + std::to_string(static_cast<int>(damage)));
    instance_.reset();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Restart();
    auto docs = Create("docs", 3);
    ASSERT_NE(docs, nullptr);
    Model in_snapshot, in_log_before, in_log_after;
    AddRandom(docs, 8, 1, "a", &in_snapshot);  // record 1
    ASSERT_TRUE(storage().Checkpoint(docs).ok());
    AddRandom(docs, 5, 2, "b", &in_log_before);  // record 2
    Model damaged_record;
    AddRandom(docs, 5, 3, "c", &damaged_record);  // record 3
    AddRandom(docs, 5, 4, "d", &in_log_after);    // record 4
    docs.reset();
    instance_.reset();

    Model kept;
    auto keep = [&](const Model& part) { kept.insert(part.begin(), part.end()); };
    switch (damage) {
      case Damage::kCorruptSnapshot:
      case Damage::kTruncatedSnapshot: {
        std::string snapshot = ReadFile(HnswPath("docs"));
        if (damage == Damage::kTruncatedSnapshot) {
          snapshot.resize(snapshot.size() / 2);
        } else {
          snapshot[snapshot.size() / 2] = static_cast<char>(snapshot[snapshot.size() / 2] ^ 0x5a);
        }
        WriteFile(HnswPath("docs"), snapshot);
        keep(in_log_before), keep(damaged_record), keep(in_log_after);
        break;
      }
      case Damage::kCorruptLogRecord: {
        std::string segment = ReadFile(LastSegmentPath("docs"));
        std::vector<size_t> starts = RecordStarts(segment);
        ASSERT_EQ(starts.size(), 4u);  // records 2 to 4, and the end
        segment[starts[1] + 30] = static_cast<char>(segment[starts[1] + 30] ^ 0x40);
        WriteFile(LastSegmentPath("docs"), segment);
        keep(in_snapshot), keep(in_log_before);
        break;
      }
      case Damage::kMissingParams:
        fs::remove(JsonPath("docs"));
        keep(in_snapshot), keep(in_log_before), keep(damaged_record), keep(in_log_after);
        break;
    }
    const std::string pristine = dir_ + ".pristine";
    fs::remove_all(pristine);
    fs::copy(dir_, pristine, fs::copy_options::recursive);

    // Failed, visible, and its name cannot be taken.
    Instance& failed = Restart();
    ASSERT_TRUE(failed.registry->FailureOf("docs").has_value());
    EXPECT_EQ(failed.registry->Find("docs"), nullptr);
    CreateSpec spec;
    spec.name = "docs";
    spec.dimension = 3;
    EXPECT_EQ(registry().Create(spec).status().code(), StatusCode::kAlreadyExists);
    // Delete: into quarantine, nothing removed.
    ASSERT_TRUE(registry().Drop("docs").ok());
    std::vector<fs::path> folders;
    for (const auto& entry : fs::directory_iterator(Path("_quarantine"))) folders.push_back(entry);
    ASSERT_EQ(folders.size(), 1u);
    EXPECT_TRUE(fs::exists(folders[0] / "docs.wal"));
    EXPECT_EQ(fs::exists(folders[0] / "docs.json"), damage != Damage::kMissingParams);
    EXPECT_FALSE(fs::exists(WalPath("docs")));

    // Recover (from the damaged state again) keeps what the damage left.
    instance_.reset();
    fs::remove_all(dir_);
    fs::copy(pristine, dir_, fs::copy_options::recursive);
    fs::remove_all(pristine);
    Instance& again = Restart();
    ASSERT_TRUE(again.registry->FailureOf("docs").has_value());
    auto recovered = again.registry->Recover("docs");
    ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
    ASSERT_NE(again.registry->Find("docs"), nullptr);
    ExpectHolds(*again.registry->Find("docs"), kept);
    Instance& restarted = Restart();
    ASSERT_NE(restarted.registry->Find("docs"), nullptr);
    ExpectHolds(*restarted.registry->Find("docs"), kept);
  }
}

TEST_F(IndexStorageTest, RecoverWithoutItsSnapshotKeepsTheLogAfterIt) {
  Restart();
  auto docs = Create("docs", 3);
  ASSERT_NE(docs, nullptr);
  Model model;
  AddRandom(docs, 8, 1, "a", &model);
  ASSERT_TRUE(storage().Checkpoint(docs).ok());  // the snapshot holds record 1
  Model after_snapshot;
  AddRandom(docs, 5, 2, "b", &after_snapshot);
  docs.reset();
  instance_.reset();
  std::string snapshot = ReadFile(HnswPath("docs"));
  snapshot[snapshot.size() / 2] = static_cast<char>(snapshot[snapshot.size() / 2] ^ 0x5a);
  WriteFile(HnswPath("docs"), snapshot);

  Instance& next = Restart();
  auto recovered = next.registry->Recover("docs");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  const RecoveryReport& report = recovered->report;
  EXPECT_EQ(report.snapshot_sequence, 0u);
  EXPECT_NE(report.snapshot_error.find("_vectors/docs.hnsw"), std::string::npos)
      << report.snapshot_error;
  EXPECT_EQ(report.records, 1u);
  EXPECT_EQ(report.first_record, 2u);
  EXPECT_TRUE(report.log_error.empty()) << report.log_error;
  ExpectHolds(*next.registry->Find("docs"), after_snapshot);
  EXPECT_EQ(ReadFile(report.quarantine + "/docs.hnsw"), snapshot);
}

TEST_F(IndexStorageTest, RecoverTakesLostParamsFromTheSnapshot) {
  Restart();
  auto docs = Create("docs", 3, "euclidean", 12);
  ASSERT_NE(docs, nullptr);
  Model model;
  AddRandom(docs, 8, 1, "a", &model);
  ASSERT_TRUE(storage().Checkpoint(docs).ok());
  docs.reset();
  instance_.reset();
  fs::remove(JsonPath("docs"));

  Instance& next = Restart();
  ASSERT_TRUE(next.registry->FailureOf("docs").has_value());
  // A loaded index needs no recovery; an unknown one cannot have any.
  EXPECT_EQ(next.registry->Recover("nothing").status().code(), StatusCode::kNotFound);
  auto recovered = next.registry->Recover("docs");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_NE(recovered->report.params_note.find("params taken from the snapshot"),
            std::string::npos);
  EXPECT_EQ(recovered->report.snapshot_sequence, 1u);
  auto index = next.registry->Find("docs");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->params().metric, engine::Metric::kEuclidean);
  EXPECT_EQ(index->params().m, 12u);
  ExpectHolds(*index, model);
  EXPECT_TRUE(fs::exists(JsonPath("docs")));
  EXPECT_EQ(next.registry->Recover("docs").status().code(), StatusCode::kAlreadyExists);
}

// A create whose first log segment could not be written (e.g. a full disk)
// leaves an empty <name>.wal directory: LogWriter::Open creates the
// directory, and StartSegment removes only the file when it fails.
//
// Regression test: an empty .wal directory left by an unfinished create is
// a leftover too, although the object listing (files only) never shows it;
// otherwise it would stay on disk until a create of the same name.
TEST_F(IndexStorageTest, LoadAllRemovesAnEmptyLeftoverLogDirectory) {
  FaultInjectingFileSystem faulty;
  Restart(Options(), &faulty);
  faulty.SetNoSpace(true);
  auto failed = registry().Create(CreateSpec{"ghost", 2, 0, 0, 0, "euclidean", "", ""});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kNoSpace) << failed.status().ToString();
  faulty.ClearFaults();
  EXPECT_EQ(registry().Find("ghost"), nullptr);
  EXPECT_FALSE(fs::exists(JsonPath("ghost")));
  EXPECT_TRUE(Segments("ghost").empty());

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 0u);
  EXPECT_EQ(next.report.failed, 0u);
  EXPECT_FALSE(fs::exists(WalPath("ghost")));
}

TEST_F(IndexStorageTest, FailedCreateRegistersNothingAndCanBeRetried) {
  FaultInjectingFileSystem faulty;
  Restart(Options(), &faulty);
  faulty.SetFailSync(true);  // the first segment's header cannot be made durable
  auto failed = registry().Create(CreateSpec{"docs", 2, 0, 0, 0, "euclidean", "", ""});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kIOError) << failed.status().ToString();
  EXPECT_EQ(registry().Find("docs"), nullptr);
  EXPECT_FALSE(fs::exists(JsonPath("docs")));

  faulty.ClearFaults();
  auto docs = Create("docs", 2);
  ASSERT_NE(docs, nullptr);
  Model model;
  Add(docs, {Item("a", {1, 2})}, &model);
  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  ExpectHolds(*next.registry->Find("docs"), model);
}

TEST_F(IndexStorageTest, CorruptedMiddleRecordFailsOnlyThatIndex) {
  Restart();
  auto bad = Create("bad", 2);
  auto good = Create("good", 2);
  ASSERT_TRUE(bad && good);
  Model bad_model, good_model;
  for (uint32_t i = 0; i < 5; ++i) AddRandom(bad, 3, i, "b" + std::to_string(i) + "-", &bad_model);
  AddRandom(good, 4, 9, "g", &good_model);
  instance_.reset();

  const std::string path = LastSegmentPath("bad");
  std::string bytes = ReadFile(path);
  std::vector<size_t> starts = RecordStarts(bytes);
  ASSERT_EQ(starts.size(), 6u);
  ASSERT_EQ(starts.back(), bytes.size());
  // A payload byte of record 3: records 4 and 5 follow it.
  const size_t at = starts[2] + store::log_format::kRecordHeaderSize + 6;
  bytes[at] = static_cast<char>(bytes[at] ^ 0x40);
  WriteFile(path, bytes);

  Instance& next = Restart();
  EXPECT_EQ(next.report.failed, 1u);
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_EQ(next.registry->Find("bad"), nullptr);
  ASSERT_NE(next.registry->Find("good"), nullptr);
  ExpectHolds(*next.registry->Find("good"), good_model);
  // Nothing of the damaged index was deleted: it is there to be repaired.
  EXPECT_TRUE(fs::exists(JsonPath("bad")));
  EXPECT_EQ(ReadFile(path), bytes);
}

TEST_F(IndexStorageTest, DamagedParamsFileFailsOnlyThatIndex) {
  Restart();
  ASSERT_NE(Create("bad", 2), nullptr);
  ASSERT_NE(Create("good", 2), nullptr);
  instance_.reset();
  WriteFile(JsonPath("bad"), "{\"format\":\"vectord.index-params\"");
  Instance& next = Restart();
  EXPECT_EQ(next.report.failed, 1u);
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_EQ(next.registry->Names(), std::vector<std::string>{"good"});
}

TEST_F(IndexStorageTest, QuantizationSurvivesARestartAndOldParamsFilesMeanNone) {
  Restart();
  ASSERT_NE(Create("coded", 4, "cosine", 0, 0, 0, "sq8"), nullptr);
  ASSERT_NE(Create("plain", 4), nullptr);
  instance_.reset();
  // A params file written before the field existed.
  std::string json = ReadFile(JsonPath("plain"));
  const std::string field = ",\"quantization\":\"none\"";
  ASSERT_NE(json.find(field), std::string::npos) << json;
  json.erase(json.find(field), field.size());
  WriteFile(JsonPath("plain"), json);
  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 2u);
  EXPECT_EQ(registry().Find("coded")->params().quantization, engine::Quantization::kSq8);
  EXPECT_EQ(registry().Find("coded")->engine().options().quantization, engine::Quantization::kSq8);
  EXPECT_EQ(registry().Find("plain")->params().quantization, engine::Quantization::kNone);
}

// An index with its vectors on disk is an SQ8 index that keeps no vector
// rows in memory, through checkpoints, replay and restarts; its vector file
// leaves nothing in the data directory.
TEST_F(IndexStorageTest, VectorsOnDiskSurviveCheckpointsAndRestarts) {
  Restart();
  CreateSpec spec;
  spec.name = "ondisk";
  spec.dimension = 8;
  spec.distance = "euclidean";
  spec.vectors = "disk";
  auto created = registry().Create(spec);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto ondisk = *created;
  EXPECT_EQ(ondisk->params().quantization, engine::Quantization::kSq8);
  EXPECT_EQ(ondisk->engine().options().vectors.placement, engine::VectorPlacement::kDisk);
  EXPECT_NE(ReadFile(JsonPath("ondisk")).find("\"vectors\":\"disk\""), std::string::npos);
  Model model;
  AddRandom(ondisk, 1200, 3, "a-", &model);  // past the quantiser's training size
  ASSERT_TRUE(storage().Checkpoint(ondisk).ok());
  AddRandom(ondisk, 40, 4, "b-", &model);
  Remove(ondisk, {"a-1", "b-2"}, &model);
  ASSERT_FALSE(HasFatalFailure());

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  auto reloaded = registry().Find("ondisk");
  ASSERT_NE(reloaded, nullptr);
  EXPECT_EQ(reloaded->params().vectors, engine::VectorPlacement::kDisk);
  EXPECT_EQ(reloaded->engine().options().vectors.placement, engine::VectorPlacement::kDisk);
  const engine::MemoryUsage usage = reloaded->engine().memory_usage();
  EXPECT_EQ(usage.vector_and_link_bytes, 0u);
  EXPECT_GT(usage.disk_vector_bytes, 0u);
  ExpectHolds(*reloaded, model);
  SearchSpec search;
  search.vector = model.at("a-7").first;
  search.k = 1;
  auto hits = reloaded->Search(search);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].id, "a-7");
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().string().find("vectors."), std::string::npos) << entry.path();
  }

  // vectors "disk" cannot be had without SQ8, and only the two names exist.
  spec.name = "plain";
  spec.quantization = "none";
  auto refused = registry().Create(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("sq8"), std::string::npos);
  spec.quantization = "";
  spec.vectors = "ssd";
  refused = registry().Create(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("\"memory\" or \"disk\""), std::string::npos);
  EXPECT_EQ(registry().Find("plain"), nullptr);
}

TEST_F(IndexStorageTest, TornTailLoadsTheRecordsBeforeItAndWritesContinue) {
  Restart();
  auto docs = Create("docs", 3);
  ASSERT_NE(docs, nullptr);
  Model model;
  for (int i = 0; i < 5; ++i) {
    Add(docs,
        {Item("i" + std::to_string(i), {static_cast<float>(i), 1, 2},
              "{\"i\":" + std::to_string(i) + "}")},
        &model);
  }
  instance_.reset();
  docs.reset();
  // The last record was being written when the process died.
  const std::string path = LastSegmentPath("docs");
  const size_t size = fs::file_size(path);
  fs::resize_file(path, size - 3);
  model.erase("i4");

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_EQ(next.report.failed, 0u);
  EXPECT_EQ(next.storage->stats().replayed_records, 4u);
  auto docs2 = next.registry->Find("docs");
  ASSERT_NE(docs2, nullptr);
  ExpectHolds(*docs2, model);
  EXPECT_FALSE(docs2->engine().Contains("i4"));
  // The torn bytes were cut off before anything was appended.
  std::vector<size_t> starts = RecordStarts(ReadFile(path));
  EXPECT_EQ(starts.size(), 5u);
  EXPECT_EQ(starts.back(), fs::file_size(path));

  Add(docs2, {Item("new1", {9, 9, 9})}, &model);
  Remove(docs2, {"i0"}, &model);
  Add(docs2, {Item("new2", {8, 8, 8}, "\"n\"")}, &model);

  Instance& third = Restart();
  EXPECT_EQ(third.report.loaded, 1u);
  EXPECT_EQ(third.report.failed, 0u);
  EXPECT_EQ(third.storage->stats().replayed_records, 7u);
  auto docs3 = third.registry->Find("docs");
  ASSERT_NE(docs3, nullptr);
  ExpectHolds(*docs3, model);
  EXPECT_FALSE(docs3->engine().Contains("i4"));
}

TEST_F(IndexStorageTest, DurabilityLevels) {
  FaultInjectingFileSystem counting;
  Restart(Options(), &counting);
  auto docs = Create("docs", 2);
  ASSERT_NE(docs, nullptr);
  std::vector<NewItem> one = {Item("a", {1, 0})};
  std::vector<std::string> ids = {"a"};

  uint64_t syncs = counting.syncs();
  auto result = registry().Add(docs, one);  // fsync = always
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->durability, "fsync");
  EXPECT_EQ(result->affected, 1u);
  EXPECT_EQ(result->length, 1u);
  EXPECT_EQ(counting.syncs(), syncs + 1);

  syncs = counting.syncs();
  result = registry().Add(docs, one, Durability::kWritten);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->durability, "written");
  EXPECT_EQ(counting.syncs(), syncs);  // no fsync for it

  result = registry().Add(docs, one, Durability::kFsync);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->durability, "fsync");
  result = registry().Remove(docs, ids, Durability::kWritten);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->durability, "written");
  EXPECT_EQ(result->affected, 1u);
  EXPECT_EQ(result->length, 0u);
  result = registry().Remove(docs, ids);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->durability, "fsync");
  EXPECT_EQ(result->affected, 0u);

  // Under the interval policy the default is "written", and an explicit
  // fsync is still honoured.
  StorageOptions interval = Options();
  interval.fsync_always = false;
  Restart(interval, &counting);
  docs = registry().Find("docs");
  ASSERT_NE(docs, nullptr);
  syncs = counting.syncs();
  result = registry().Add(docs, one);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->durability, "written");
  EXPECT_EQ(counting.syncs(), syncs);
  result = registry().Add(docs, std::vector<NewItem>{Item("b", {0, 1})}, Durability::kFsync);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->durability, "fsync");
  EXPECT_EQ(counting.syncs(), syncs + 1);

  // Written records are in the file: a restart of the process has them.
  Instance& next = Restart();
  auto docs2 = next.registry->Find("docs");
  ASSERT_NE(docs2, nullptr);
  EXPECT_TRUE(docs2->engine().Contains("a"));
  EXPECT_TRUE(docs2->engine().Contains("b"));
}

TEST_F(IndexStorageTest, IntervalPolicySyncsInTheBackground) {
  FaultInjectingFileSystem counting;
  StorageOptions options = Options();
  options.fsync_always = false;
  options.fsync_interval = 5ms;
  Restart(options, &counting);
  auto docs = Create("docs", 2);
  ASSERT_NE(docs, nullptr);
  storage().Start();
  const uint64_t syncs = counting.syncs();
  auto result = registry().Add(docs, std::vector<NewItem>{Item("a", {1, 0})});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->durability, "written");
  EXPECT_TRUE(WaitFor([&] { return counting.syncs() > syncs; }))
      << "the background thread never fsynced the log";
  storage().Stop();
}

TEST_F(IndexStorageTest, BackgroundCheckpointWhenTheSegmentGrows) {
  StorageOptions options = Options();
  options.checkpoint_bytes = 4096;
  Restart(options);
  auto docs = Create("docs", 8);
  ASSERT_NE(docs, nullptr);
  storage().Start();
  Model model;
  for (uint32_t i = 0; i < 20; ++i) AddRandom(docs, 10, i, "r" + std::to_string(i) + "-", &model);
  EXPECT_TRUE(WaitFor([&] { return storage().stats().checkpoints >= 1; }))
      << "no checkpoint after " << docs->log()->current_segment_bytes() << " bytes";
  storage().Stop();
  EXPECT_TRUE(fs::exists(HnswPath("docs")));

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_LT(next.storage->stats().replayed_records, 20u);
  ExpectHolds(*next.registry->Find("docs"), model);
}

TEST_F(IndexStorageTest, BackgroundCheckpointWhenTheReplayEstimatePassesItsBudget) {
  StorageOptions options = Options();  // checkpoint_bytes far out of reach
  options.checkpoint_replay_seconds = 0.001;
  Restart(options);
  auto docs = Create("docs", 16);
  ASSERT_NE(docs, nullptr);
  storage().Start();
  Model model;
  // Each batch takes well over a millisecond to apply.
  for (uint32_t i = 0; i < 10; ++i) AddRandom(docs, 100, i, "r" + std::to_string(i) + "-", &model);
  EXPECT_TRUE(WaitFor([&] { return storage().stats().checkpoints >= 1; }))
      << "no checkpoint at a replay estimate of " << docs->replay_cost().seconds() << " s";
  storage().Stop();
  EXPECT_TRUE(fs::exists(HnswPath("docs")));
  EXPECT_LT(docs->log()->current_segment_bytes(), uint64_t{1} << 20);
  // Never more often than a checkpoint costs: the budget grew to its duration.
  EXPECT_GT(docs->replay_cost().last_checkpoint_seconds(), 0);
  EXPECT_EQ(storage().ReplayBudgetSeconds(*docs),
            std::max(0.001, docs->replay_cost().last_checkpoint_seconds()));

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_LT(next.storage->stats().replayed_records, 10u);
  ExpectHolds(*next.registry->Find("docs"), model);
}

TEST_F(IndexStorageTest, NoBackgroundCheckpointWithinTheReplayBudget) {
  StorageOptions options = Options();
  options.checkpoint_replay_seconds = 3600;
  Restart(options);
  auto docs = Create("docs", 16);
  ASSERT_NE(docs, nullptr);
  storage().Start();
  Model model;
  for (uint32_t i = 0; i < 10; ++i) AddRandom(docs, 100, i, "r" + std::to_string(i) + "-", &model);
  std::this_thread::sleep_for(200ms);
  storage().Stop();
  EXPECT_EQ(storage().stats().checkpoints, 0u);
  EXPECT_FALSE(fs::exists(HnswPath("docs")));
  EXPECT_GT(docs->replay_cost().seconds(), 0);
  EXPECT_EQ(storage().ReplayBudgetSeconds(*docs), 3600);
}

TEST_F(IndexStorageTest, ReplayEstimateIsTheMeasuredReplayTimeAfterARestart) {
  Restart();
  auto docs = Create("docs", 16);
  ASSERT_NE(docs, nullptr);
  Model model;
  for (uint32_t i = 0; i < 5; ++i) AddRandom(docs, 100, i, "r" + std::to_string(i) + "-", &model);
  EXPECT_GT(docs->replay_cost().seconds(), 0);

  Instance& next = Restart();  // a crash: nothing checkpointed
  ASSERT_EQ(next.report.loaded, 1u);
  EXPECT_EQ(next.storage->stats().replayed_records, 5u);
  auto loaded = next.registry->Find("docs");
  ASSERT_NE(loaded, nullptr);
  ExpectHolds(*loaded, model);
  EXPECT_GT(next.storage->stats().replay_seconds, 0);
  EXPECT_EQ(loaded->replay_cost().seconds(), next.storage->stats().replay_seconds);

  // A checkpoint covers it: what is left is what was applied after its
  // rotation (nothing here), and a restart then replays nothing.
  ASSERT_TRUE(next.storage->Checkpoint(loaded).ok());
  EXPECT_EQ(loaded->replay_cost().seconds(), 0);
  AddRandom(loaded, 100, 99, "late-", &model);
  EXPECT_GT(loaded->replay_cost().seconds(), 0);
  ASSERT_TRUE(next.storage->Checkpoint(loaded).ok());
  EXPECT_EQ(loaded->replay_cost().seconds(), 0);
  Instance& third = Restart();
  EXPECT_EQ(third.storage->stats().replayed_records, 0u);
  EXPECT_EQ(third.registry->Find("docs")->replay_cost().seconds(), 0);
}

TEST_F(IndexStorageTest, StartCheckpointsAnIndexWhoseReplayPassedItsBudget) {
  Restart();
  auto docs = Create("docs", 16);
  ASSERT_NE(docs, nullptr);
  Model model;
  for (uint32_t i = 0; i < 3; ++i) AddRandom(docs, 300, i, "r" + std::to_string(i) + "-", &model);
  StorageOptions options = Options();
  options.checkpoint_replay_seconds = 0.001;
  Instance& next = Restart(options);
  ASSERT_EQ(next.storage->stats().replayed_records, 3u);
  EXPECT_EQ(next.storage->stats().checkpoints, 0u);
  next.storage->Start();  // no write needed
  EXPECT_TRUE(WaitFor([&] { return next.storage->stats().checkpoints >= 1; }));
  next.storage->Stop();
  EXPECT_TRUE(fs::exists(HnswPath("docs")));
  EXPECT_EQ(next.registry->Find("docs")->replay_cost().seconds(), 0);
}

TEST_F(IndexStorageTest, ConcurrentWritersRecoverToTheSameState) {
  Restart();
  auto docs = Create("docs", 4);
  ASSERT_NE(docs, nullptr);
  constexpr int kThreads = 6;
  constexpr int kWrites = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t));
      for (int i = 0; i < kWrites; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        std::vector<NewItem> items = {Item(id, RandomVector(rng, 4), "\"" + id + "\"")};
        if (!registry().Add(docs, items).ok()) ++failures;
        if (i % 5 == 4) {
          std::vector<std::string> ids = {"t" + std::to_string(t) + "-" + std::to_string(i - 2)};
          if (!registry().Remove(docs, ids).ok()) ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  std::vector<std::string> live;
  docs->engine().ForEachLive(
      [&](uint32_t, std::string_view id, const std::string*) { live.emplace_back(id); });
  Model model;
  for (const std::string& id : live) {
    auto item = docs->engine().Get(id);
    ASSERT_TRUE(item.has_value()) << id;
    model[id] = {item->vector, item->payload};
  }
  EXPECT_EQ(model.size(), size_t{kThreads} * (kWrites - kWrites / 5));

  Instance& next = Restart();
  EXPECT_EQ(next.storage->stats().replayed_records, size_t{kThreads} * (kWrites + kWrites / 5));
  ExpectHolds(*next.registry->Find("docs"), model);
}

TEST_F(IndexStorageTest, FailedSyncFailsTheWriteAndAppliesNothing) {
  FaultInjectingFileSystem faulty;
  Restart(Options(), &faulty);
  auto docs = Create("docs", 2);
  ASSERT_NE(docs, nullptr);
  Model model;
  Add(docs, {Item("a", {1, 0}, "\"a\"")}, &model);
  const uint64_t changes = docs->change_count();

  faulty.SetFailSync(true);
  auto added = registry().Add(docs, std::vector<NewItem>{Item("b", {0, 1}), Item("a", {5, 5})});
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), StatusCode::kIOError) << added.status().ToString();
  auto removed = registry().Remove(docs, std::vector<std::string>{"a"});
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.status().code(), StatusCode::kIOError) << removed.status().ToString();
  // Nothing of either is visible.
  EXPECT_FALSE(docs->engine().Contains("b"));
  ExpectHolds(*docs, model);
  EXPECT_EQ(docs->change_count(), changes);
  SearchSpec spec;
  spec.vector = {0, 1};
  spec.k = 5;
  auto results = docs->Search(spec);
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 1u);
  EXPECT_EQ((*results)[0].id, "a");

  // Once the disk works again, so do writes.
  faulty.ClearFaults();
  Add(docs, {Item("c", {1, 1})}, &model);
  Remove(docs, {"a"}, &model);
  ExpectHolds(*docs, model);

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  auto docs2 = next.registry->Find("docs");
  ASSERT_NE(docs2, nullptr);
  ExpectHolds(*docs2, model);
  EXPECT_FALSE(docs2->engine().Contains("b"));
}

TEST_F(IndexStorageTest, FailedAppendFailsTheWriteAndAppliesNothing) {
  FaultInjectingFileSystem faulty;
  Restart(Options(), &faulty);
  auto docs = Create("docs", 2);
  ASSERT_NE(docs, nullptr);
  Model model;
  Add(docs, {Item("a", {1, 0})}, &model);

  faulty.FailNextAppend(/*prefix_bytes=*/9);  // a short write
  auto added = registry().Add(docs, std::vector<NewItem>{Item("b", {0, 1})});
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.status().code(), StatusCode::kIOError);
  EXPECT_FALSE(docs->engine().Contains("b"));
  Add(docs, {Item("c", {1, 1})}, &model);

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  EXPECT_EQ(next.report.failed, 0u);
  ExpectHolds(*next.registry->Find("docs"), model);
}

TEST_F(IndexStorageTest, NoSpaceFailsWithNoSpaceAndAppliesNothing) {
  FaultInjectingFileSystem faulty;
  Restart(Options(), &faulty);
  auto docs = Create("docs", 2);
  ASSERT_NE(docs, nullptr);
  Model model;
  Add(docs, {Item("a", {1, 0})}, &model);

  faulty.SetNoSpace(true, /*prefix_bytes=*/7);
  for (Durability level : {Durability::kDefault, Durability::kWritten}) {
    auto added = registry().Add(docs, std::vector<NewItem>{Item("b", {0, 1})}, level);
    ASSERT_FALSE(added.ok());
    EXPECT_EQ(added.status().code(), StatusCode::kNoSpace) << added.status().ToString();
    auto removed = registry().Remove(docs, std::vector<std::string>{"a"}, level);
    ASSERT_FALSE(removed.ok());
    EXPECT_EQ(removed.status().code(), StatusCode::kNoSpace) << removed.status().ToString();
  }
  EXPECT_FALSE(docs->engine().Contains("b"));
  ExpectHolds(*docs, model);

  faulty.SetNoSpace(false);
  Add(docs, {Item("b", {0, 1})}, &model);
  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  ExpectHolds(*next.registry->Find("docs"), model);
}

// A write acknowledged as "written" (Durability::kWritten, or the default
// under the interval policy) is in memory and promised to survive a process
// crash. A later write's failed fsync must not take it away.
//
// Regression test: a failed fsync must not take back records that were only
// written, not yet fsynced — the "written" durability level has already
// applied and acknowledged them. Truncating to the last fsynced record would
// make memory and log disagree, and the next restart would lose "w" although
// the process never crashed.
TEST_F(IndexStorageTest, WrittenRecordSurvivesALaterFailedFsync) {
  FaultInjectingFileSystem faulty;
  Restart(Options(), &faulty);
  auto docs = Create("docs", 2);
  ASSERT_NE(docs, nullptr);
  Model model;
  Add(docs, {Item("w", {1, 0})}, &model, Durability::kWritten);

  faulty.FailNextSync();
  auto failed = registry().Add(docs, std::vector<NewItem>{Item("f", {0, 1})}, Durability::kFsync);
  ASSERT_FALSE(failed.ok());
  EXPECT_FALSE(docs->engine().Contains("f"));
  EXPECT_TRUE(docs->engine().Contains("w"));  // acknowledged and visible

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  ExpectHolds(*next.registry->Find("docs"), model);
}

// The same under the interval policy: the background fsync fails once.
// Regression test: as WrittenRecordSurvivesALaterFailedFsync, for the
// background fsync of the interval policy.
TEST_F(IndexStorageTest, IntervalWritesSurviveAFailedBackgroundFsync) {
  FaultInjectingFileSystem faulty;
  StorageOptions options = Options();
  options.fsync_always = false;
  Restart(options, &faulty);
  auto docs = Create("docs", 2);
  ASSERT_NE(docs, nullptr);
  Model model;
  Add(docs, {Item("a", {1, 0})}, &model);
  Add(docs, {Item("b", {0, 1})}, &model);

  faulty.FailNextSync();
  EXPECT_FALSE(docs->log()->SyncAll().ok());  // what the background thread runs
  ExpectHolds(*docs, model);                  // still in memory
  Add(docs, {Item("c", {1, 1})}, &model);
  ASSERT_TRUE(docs->log()->SyncAll().ok());

  Instance& next = Restart();
  EXPECT_EQ(next.report.loaded, 1u);
  ExpectHolds(*next.registry->Find("docs"), model);
}

// Records lost to a failed fsync leave a gap in the sequence numbers; a
// checkpoint then starts a segment named after the next sequence, above the
// last record recovery will see.
//
// Regression test: when recovery reopens the log in a segment whose first
// sequence lies above the last record read (records lost, then a
// checkpoint), the next write must be numbered from the segment's first
// sequence; numbered below it, the following restart would fail with
// "sequence N does not follow N-1" and the index would not load.
TEST_F(IndexStorageTest, RecoveryAfterLostRecordAndCheckpointStaysLoadable) {
  FaultInjectingFileSystem faulty;
  Restart(Options(), &faulty);
  auto docs = Create("docs", 2);
  ASSERT_NE(docs, nullptr);
  Model model;
  Add(docs, {Item("a", {1, 0})}, &model);
  faulty.FailNextSync();
  EXPECT_FALSE(registry().Add(docs, std::vector<NewItem>{Item("lost", {0, 1})}).ok());
  ASSERT_TRUE(storage().Checkpoint(docs).ok());

  Instance& next = Restart();
  ASSERT_EQ(next.report.loaded, 1u);
  auto docs2 = next.registry->Find("docs");
  ASSERT_NE(docs2, nullptr);
  ExpectHolds(*docs2, model);
  Add(docs2, {Item("c", {1, 1})}, &model);

  Instance& third = Restart();
  EXPECT_EQ(third.report.loaded, 1u);
  EXPECT_EQ(third.report.failed, 0u);
  auto docs3 = third.registry->Find("docs");
  ASSERT_NE(docs3, nullptr);
  ExpectHolds(*docs3, model);
}

// --- Faults under the snapshots and the params ----------------------------
// The FaultInjectingFileSystem under the log is also under the whole files
// (LocalObjectStore), with their fsyncs on. A filter aims each fault at one
// file or directory, so that the log's own fsyncs (a checkpoint rotates the
// log first) go through.

bool IsSnapshot(const std::string& path) {  // the file and its temporary twins
  return path.find("/_vectors/docs.hnsw") != std::string::npos;
}
bool IsParams(const std::string& path) {
  return path.find("/_vectors/docs.json") != std::string::npos;
}
bool IsIndexDirectory(const std::string& path) { return path.ends_with("/_vectors"); }

class IndexStorageFaultTest : public IndexStorageTest {
 protected:
  std::vector<std::string> TempFiles() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(Path("_vectors"))) {
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".tmp")) names.push_back(name);
    }
    return names;
  }

  // Writes, a checkpoint that succeeds, more writes; then a checkpoint with
  // the fault `arm` sets, which must fail with `code`. What the protocol
  // promises is then checked: nothing half-published is left, writes go on,
  // and a restart recovers every acknowledged write — from the previous
  // snapshot, which must still be in place unless `renamed` (the fault came
  // after the rename, whose durability is then unknown: the test puts the
  // previous snapshot back, as a power loss may).
  template <typename Arm>
  void CheckpointFailsAndNothingIsLost(StatusCode code, bool renamed, Arm arm,
                                       bool at_shutdown = false) {
    FaultInjectingFileSystem faulty;
    Restart(Options(), &faulty, /*sync=*/true);
    auto docs = Create("docs", 4);
    ASSERT_NE(docs, nullptr);
    Model model;
    AddRandom(docs, 40, 1, "a-", &model);
    ASSERT_TRUE(storage().Checkpoint(docs).ok());
    const std::string previous = ReadFile(HnswPath("docs"));
    AddRandom(docs, 40, 2, "b-", &model);
    Remove(docs, {"a-3", "b-5"}, &model);
    ASSERT_FALSE(HasFatalFailure());
    const uint64_t checkpoints = storage().stats().checkpoints;

    arm(faulty);
    Status s = at_shutdown ? storage().CheckpointAll() : storage().Checkpoint(docs);
    faulty.ClearFaults();
    EXPECT_EQ(s.code(), code) << s.ToString();
    EXPECT_EQ(storage().stats().checkpoints, checkpoints);
    EXPECT_EQ(TempFiles(), std::vector<std::string>{});
    if (renamed) {
      EXPECT_NE(ReadFile(HnswPath("docs")), previous);
      WriteFile(HnswPath("docs"), previous);
    } else {
      EXPECT_TRUE(ReadFile(HnswPath("docs")) == previous) << "the snapshot was replaced";
    }

    // The index still takes writes, and a later checkpoint works.
    AddRandom(docs, 10, 3, "c-", &model);
    ASSERT_FALSE(HasFatalFailure());
    docs.reset();
    Instance& next = Restart(Options(), &faulty, /*sync=*/true);
    EXPECT_EQ(next.report.loaded, 1u);
    EXPECT_EQ(next.report.failed, 0u);
    auto loaded = next.registry->Find("docs");
    ASSERT_NE(loaded, nullptr);
    ExpectHolds(*loaded, model);
    ASSERT_TRUE(storage().Checkpoint(loaded).ok());
    loaded.reset();
    Instance& last = Restart();
    ASSERT_NE(last.registry->Find("docs"), nullptr);
    ExpectHolds(*last.registry->Find("docs"), model);
  }

  // A create whose params file cannot be published: it fails with `code`,
  // registers nothing, and leaves nothing that a restart would load; the
  // same name can be created afterwards.
  template <typename Arm>
  void CreateFailsAndLeavesNothing(StatusCode code, Arm arm) {
    FaultInjectingFileSystem faulty;
    Restart(Options(), &faulty, /*sync=*/true);
    arm(faulty);
    auto failed = registry().Create(CreateSpec{"docs", 2, 0, 0, 0, "euclidean", "", ""});
    faulty.ClearFaults();
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), code) << failed.status().ToString();
    EXPECT_EQ(registry().Find("docs"), nullptr);
    EXPECT_EQ(TempFiles(), std::vector<std::string>{});

    Instance& next = Restart();
    EXPECT_EQ(next.report.loaded, 0u);
    EXPECT_EQ(next.report.failed, 0u);
    EXPECT_EQ(next.registry->Find("docs"), nullptr);
    EXPECT_FALSE(fs::exists(JsonPath("docs")));
    EXPECT_FALSE(fs::exists(WalPath("docs")));

    auto docs = Create("docs", 2);
    ASSERT_NE(docs, nullptr);
    Model model;
    Add(docs, {Item("a", {1, 2})}, &model);
    docs.reset();
    Instance& again = Restart();
    ASSERT_NE(again.registry->Find("docs"), nullptr);
    ExpectHolds(*again.registry->Find("docs"), model);
  }
};

TEST_F(IndexStorageFaultTest, CheckpointWithAFailedSnapshotFsyncKeepsThePreviousOne) {
  CheckpointFailsAndNothingIsLost(StatusCode::kIOError, /*renamed=*/false, [](auto& faulty) {
    faulty.SetFaultFilter(IsSnapshot);
    faulty.FailNextSync();
  });
}

TEST_F(IndexStorageFaultTest, CheckpointWithAFailedRenameKeepsThePreviousOne) {
  CheckpointFailsAndNothingIsLost(StatusCode::kIOError, /*renamed=*/false, [](auto& faulty) {
    faulty.SetFaultFilter(IsSnapshot);
    faulty.FailNextRename();
  });
}

// The new snapshot is in place but perhaps not durably: the checkpoint must
// fail before it deletes the log segments the snapshot covers.
TEST_F(IndexStorageFaultTest, CheckpointWithAFailedDirectoryFsyncKeepsTheLog) {
  CheckpointFailsAndNothingIsLost(StatusCode::kIOError, /*renamed=*/true, [](auto& faulty) {
    faulty.SetFaultFilter(IsIndexDirectory);
    faulty.FailNextSyncDirectory();
  });
}

TEST_F(IndexStorageFaultTest, CheckpointOnAFullDiskIsNoSpaceAfterAShortWrite) {
  CheckpointFailsAndNothingIsLost(StatusCode::kNoSpace, /*renamed=*/false, [](auto& faulty) {
    faulty.SetFaultFilter(IsSnapshot);
    faulty.SetNoSpace(true, /*prefix_bytes=*/100);
  });
}

TEST_F(IndexStorageFaultTest, ShutdownCheckpointOnAFullDiskReportsNoSpace) {
  CheckpointFailsAndNothingIsLost(
      StatusCode::kNoSpace, /*renamed=*/false,
      [](auto& faulty) {
        faulty.SetFaultFilter(IsSnapshot);
        faulty.SetNoSpace(true, /*prefix_bytes=*/0);
      },
      /*at_shutdown=*/true);
}

TEST_F(IndexStorageFaultTest, CreateWithAFailedParamsFsyncLeavesNothing) {
  CreateFailsAndLeavesNothing(StatusCode::kIOError, [](auto& faulty) {
    faulty.SetFaultFilter(IsParams);
    faulty.FailNextSync();
  });
}

TEST_F(IndexStorageFaultTest, CreateWithAFailedParamsRenameLeavesNothing) {
  CreateFailsAndLeavesNothing(StatusCode::kIOError, [](auto& faulty) {
    faulty.SetFaultFilter(IsParams);
    faulty.FailNextRename();
  });
}

TEST_F(IndexStorageFaultTest, CreateOnAFullDiskLeavesNothing) {
  CreateFailsAndLeavesNothing(StatusCode::kNoSpace, [](auto& faulty) {
    faulty.SetFaultFilter(IsParams);
    faulty.SetNoSpace(true, /*prefix_bytes=*/10);
  });
}

// The params file was renamed into place, but its directory fsync failed:
// the create answers an error, so it must not come back at a restart.
TEST_F(IndexStorageFaultTest, CreateWithAFailedDirectoryFsyncLeavesNothing) {
  CreateFailsAndLeavesNothing(StatusCode::kIOError, [](auto& faulty) {
    faulty.SetFaultFilter(IsIndexDirectory);
    faulty.FailNextSyncDirectory();
  });
}

// With a bucket: a LocalObjectStore directory stands in for the S3 bucket
// (BucketMirror sees only the ObjectStore interface), and each "host" is an
// IndexStorage over its own, initially empty, data directory.
class IndexStorageBucketTest : public IndexStorageTest {
 protected:
  void SetUp() override {
    IndexStorageTest::SetUp();
    bucket_dir_ = NewDirectory();
    auto bucket = store::LocalObjectStore::OpenRoot(bucket_dir_, /*sync=*/false);
    ASSERT_TRUE(bucket.ok()) << bucket.status().ToString();
    bucket_ = std::move(bucket).value();
  }
  void TearDown() override {
    instance_.reset();
    bucket_.reset();
    std::error_code ec;
    for (const std::string& dir : directories_) fs::remove_all(dir, ec);
    IndexStorageTest::TearDown();
  }

  std::string NewDirectory() {
    char pattern[] = "/tmp/vectord_bucket_test.XXXXXX";
    char* dir = ::mkdtemp(pattern);
    EXPECT_NE(dir, nullptr);
    directories_.push_back(dir == nullptr ? "" : dir);
    return directories_.back();
  }

  // Ends the current host and starts one on a new, empty data directory that
  // rebuilds its indexes from the bucket.
  Instance& StartNewHost() { return StartHost(NewDirectory()); }
  // Ends the current host and starts one on `data_dir`.
  Instance& StartHost(const std::string& data_dir) {
    instance_.reset();
    instance_ = std::make_unique<Instance>();
    StorageOptions options = Options();
    options.data_dir = data_dir;
    auto objects = store::LocalObjectStore::OpenRoot(options.data_dir, /*sync=*/false);
    EXPECT_TRUE(objects.ok()) << objects.status().ToString();
    instance_->objects = std::move(objects).value();
    store::LogShipperOptions shipping;
    shipping.retry_pause = 10ms;
    instance_->mirror =
        std::make_unique<BucketMirror>(bucket_.get(), instance_->objects.get(), shipping);
    instance_->storage = std::make_unique<IndexStorage>(
        instance_->objects.get(), std::move(options), instance_->mirror.get());
    instance_->registry = std::make_unique<Registry>(&pool_);
    instance_->registry->SetVectorDirectory(dir_);
    instance_->registry->SetPersistence(instance_->storage.get());
    instance_->report = instance_->storage->LoadAll(*instance_->registry, &pool_);
    return *instance_;
  }

  static std::string SegmentKey(uint64_t first, uint64_t last) {
    return BucketMirror::SegmentPrefix("docs") + store::LogShipper::ObjectName(first, last);
  }
  // The segment object keys of "docs", sorted.
  std::vector<std::string> SegmentKeys() {
    auto keys = bucket_->List(BucketMirror::SegmentPrefix("docs"));
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    std::vector<std::string> sorted = keys.ok() ? *keys : std::vector<std::string>();
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }
  // The framed records of one segment object (its bytes after the header).
  std::string RecordsOf(const std::string& key) {
    auto bytes = bucket_->Get(key);
    EXPECT_TRUE(bytes.ok()) << key << ": " << bytes.status().ToString();
    return bytes.ok() ? bytes->substr(store::log_format::kSegmentHeaderSize) : "";
  }

  // A host creates "docs" (dimension 3) and adds one item per batch, each
  // acknowledged once shipped (one object per record, "docs" record i is
  // item "i<i>", sequence i). The host is then gone: only the bucket is left.
  void ShipOneRecordEach(int records, Model* model, const std::string& data_dir = "") {
    StartHost(data_dir.empty() ? NewDirectory() : data_dir);
    auto docs = Create("docs", 3);
    ASSERT_NE(docs, nullptr);
    for (int i = 1; i <= records; ++i) {
      Add(docs, {Item("i" + std::to_string(i), {static_cast<float>(i), 1, 2})}, model);
    }
    docs.reset();
    instance_.reset();
    std::vector<std::string> expected;
    for (int i = 1; i <= records; ++i) expected.push_back(SegmentKey(i, i));
    ASSERT_EQ(SegmentKeys(), expected);
  }

  // A segment object of "docs" (dimension 3) whose first record is `first`.
  static std::string SegmentObject(uint64_t first, const std::string& records) {
    return store::log_format::EncodeSegmentHeader(3, first) + records;
  }
  // The framed records `first` to `last` of "docs", shipped one per object.
  std::string Records(uint64_t first, uint64_t last) {
    std::string records;
    for (uint64_t i = first; i <= last; ++i) records += RecordsOf(SegmentKey(i, i));
    return records;
  }
  // Deletes the segment objects `removed` from the bucket, then puts `added`.
  void ReplaceSegmentObjects(const std::vector<std::string>& removed,
                             const std::vector<std::pair<std::string, std::string>>& added) {
    for (const std::string& key : removed) ASSERT_TRUE(bucket_->Delete(key).ok()) << key;
    for (const auto& [key, bytes] : added) ASSERT_TRUE(bucket_->Put(key, bytes).ok()) << key;
  }

  // `host` loaded "docs" and nothing else, failed nothing, and "docs" holds
  // `model`; `docs`, when given, gets the index.
  static void ExpectLoadedDocs(Instance& host, const Model& model,
                               std::shared_ptr<Index>* docs = nullptr) {
    EXPECT_EQ(host.report.loaded, 1u);
    EXPECT_EQ(host.report.failed, 0u);
    EXPECT_TRUE(host.report.failures.empty());
    auto found = host.registry->Find("docs");
    ASSERT_NE(found, nullptr);
    ExpectHolds(*found, model);
    if (docs != nullptr) *docs = std::move(found);
  }

  std::string bucket_dir_;
  std::unique_ptr<store::LocalObjectStore> bucket_;
  std::vector<std::string> directories_;
};

// A segment object whose header is intact but whose body was cut in the
// middle of its last record (a PUT that never completed) is hydrated as the
// records before the cut, and repaired in the bucket, so that the objects
// shipped after it do not overlap it and the next host rebuilds everything.
TEST_F(IndexStorageBucketTest, ATornLastSegmentObjectIsRepairedAndLaterObjectsDoNotOverlapIt) {
  Model model;
  ASSERT_NO_FATAL_FAILURE(ShipOneRecordEach(3, &model));
  // Records 2 and 3 in one object 2-3, the last cut off in its middle; the
  // write of record 3 was never acknowledged at the object-store level.
  const std::string record3 = Records(3, 3);
  ASSERT_NO_FATAL_FAILURE(ReplaceSegmentObjects(
      {SegmentKey(2, 2), SegmentKey(3, 3)},
      {{SegmentKey(2, 3),
        SegmentObject(2, Records(2, 2) + record3.substr(0, record3.size() / 2))}}));
  model.erase("i3");

  std::shared_ptr<Index> docs;
  ASSERT_NO_FATAL_FAILURE(ExpectLoadedDocs(StartNewHost(), model, &docs));
  // Its whole record stays, under a key that says what it holds.
  EXPECT_EQ(SegmentKeys(), (std::vector<std::string>{SegmentKey(1, 1), SegmentKey(2, 2)}));
  Add(docs, {Item("after1", {7, 7, 7})}, &model);
  Add(docs, {Item("after2", {8, 8, 8}, "\"m\"")}, &model);
  EXPECT_EQ(SegmentKeys(), (std::vector<std::string>{SegmentKey(1, 1), SegmentKey(2, 2),
                                                     SegmentKey(3, 3), SegmentKey(4, 4)}));
  docs.reset();

  ExpectLoadedDocs(StartNewHost(), model);
}

// A host whose disk holds every record finds the bucket's last object torn:
// the bucket's coverage counts only its whole records, so the disk is ahead
// and catches the bucket up (a snapshot) before it ships on; nothing shipped
// later overlaps the torn object.
TEST_F(IndexStorageBucketTest, ATornLastSegmentObjectIsNotCountedAsCoveredByTheBucket) {
  Model model;
  const std::string disk = NewDirectory();
  ASSERT_NO_FATAL_FAILURE(ShipOneRecordEach(3, &model, disk));
  const std::string record3 = Records(3, 3);
  ASSERT_NO_FATAL_FAILURE(ReplaceSegmentObjects(
      {}, {{SegmentKey(3, 3), SegmentObject(3, record3.substr(0, record3.size() - 4))}}));

  Instance& same = StartHost(disk);
  std::shared_ptr<Index> docs;
  ASSERT_NO_FATAL_FAILURE(ExpectLoadedDocs(same, model, &docs));
  EXPECT_EQ(same.storage->stats().snapshot_uploads, 1u) << "the disk was ahead of the bucket";
  Add(docs, {Item("after", {6, 6, 6})}, &model);
  EXPECT_EQ(SegmentKeys(), (std::vector<std::string>{SegmentKey(4, 4)}));
  docs.reset();

  ExpectLoadedDocs(StartNewHost(), model);
}

// The shape a torn object left behind before hydrate repaired it: a host
// replayed the torn object's whole records and shipped on from the record
// after them, so the next object starts inside the torn object's key range.
TEST_F(IndexStorageBucketTest, ATornSegmentObjectOverlappedByTheNextHydratesWhole) {
  Model model;
  ASSERT_NO_FATAL_FAILURE(ShipOneRecordEach(4, &model));
  // Object 1-3 holds records 1 and 2 and half of a record 3 that was never
  // acknowledged; object 3-4 holds the records the host wrote next.
  const std::string torn = SegmentObject(
      1, Records(1, 2) + Records(3, 3).substr(0, store::log_format::kRecordHeaderSize + 3));
  ASSERT_NO_FATAL_FAILURE(ReplaceSegmentObjects(
      {SegmentKey(1, 1), SegmentKey(2, 2), SegmentKey(3, 3), SegmentKey(4, 4)},
      {{SegmentKey(1, 3), torn}, {SegmentKey(3, 4), SegmentObject(3, Records(3, 4))}}));

  std::shared_ptr<Index> docs;
  ASSERT_NO_FATAL_FAILURE(ExpectLoadedDocs(StartNewHost(), model, &docs));
  EXPECT_EQ(SegmentKeys(), (std::vector<std::string>{SegmentKey(1, 2), SegmentKey(3, 4)}));
  Add(docs, {Item("after", {5, 5, 5})}, &model);
  docs.reset();

  ExpectLoadedDocs(StartNewHost(), model);
}

// A torn object followed by one that does not continue right after its
// whole records: records are missing in between, which is damage.
TEST_F(IndexStorageBucketTest, ATornSegmentObjectFollowedByAGapIsCorruptionNamingIt) {
  Model model;
  ASSERT_NO_FATAL_FAILURE(ShipOneRecordEach(3, &model));
  const std::string first_record = Records(1, 1);
  ASSERT_NO_FATAL_FAILURE(ReplaceSegmentObjects(
      {SegmentKey(1, 1), SegmentKey(2, 2)},
      {{SegmentKey(1, 2), SegmentObject(1, first_record + Records(2, 2).substr(0, 10))}}));

  Instance& second = StartNewHost();
  EXPECT_EQ(second.report.loaded, 0u);
  ASSERT_EQ(second.report.failures.size(), 1u);
  const Status& failure = second.report.failures[0].error;
  EXPECT_EQ(failure.code(), StatusCode::kCorruption) << failure.ToString();
  EXPECT_NE(failure.message().find(SegmentKey(1, 2)), std::string::npos) << failure.ToString();
  const size_t cut = store::log_format::kSegmentHeaderSize + first_record.size();
  EXPECT_NE(failure.message().find("byte " + std::to_string(cut)), std::string::npos)
      << failure.ToString();
  // The bucket's copy is left as it was.
  EXPECT_EQ(SegmentKeys(), (std::vector<std::string>{SegmentKey(1, 2), SegmentKey(3, 3)}));
}

}  // namespace
}  // namespace vectord::service
