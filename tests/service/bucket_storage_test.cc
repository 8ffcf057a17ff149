// IndexStorage with an object-store tier: each "node" is a Registry +
// IndexStorage + BucketMirror over its own data directory, and every node
// shares one bucket — a LocalObjectStore directory behind a
// FaultInjectingObjectStore, which can hold an upload in flight, lose a
// reply, or be down. A node whose disk is lost is a new node on an empty
// directory: what it loads is what the bucket holds.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fault_injecting_object_store.h"
#include "service/bucket_mirror.h"
#include "service/index_storage.h"
#include "store/local_object_store.h"

namespace vectord::service {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::FaultInjectingObjectStore;

std::string MakeTempDir(const char* what) {
  std::string pattern = std::string("/tmp/vectord_") + what + ".XXXXXX";
  char* dir = ::mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return dir == nullptr ? "" : std::string(dir);
}

NewItem Item(const std::string& id, float x) { return NewItem{id, {x, 1, 2, 3}, std::nullopt}; }

// Flips one byte in the middle of a file, as a bad disk sector would.
void FlipMiddleByte(const std::string& path) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file.good()) << path;
  file.seekg(0, std::ios::end);
  const std::streamoff middle = file.tellg() / 2;
  char byte = 0;
  file.seekg(middle);
  file.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x5a);
  file.seekp(middle);
  file.write(&byte, 1);
  ASSERT_TRUE(file.good()) << path;
}

// The entries of a directory, sorted; empty when it does not exist.
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// One vectord process: its disk, its storage and registry, on the bucket.
struct Node {
  std::string data_dir;
  std::unique_ptr<store::LocalObjectStore> objects;
  std::unique_ptr<BucketMirror> mirror;
  std::unique_ptr<IndexStorage> storage;
  std::unique_ptr<Registry> registry;
  IndexStorage::LoadReport report;

  // Like the process dying: nothing of it writes or uploads afterwards, even
  // for an index the test still holds (its log is closed, its shipper
  // stopped, before the mirror whose counters the shipper updates goes).
  ~Node() {
    storage->StopBucketListing();  // it holds the registry
    for (const std::shared_ptr<Index>& index : registry->All()) {
      if (index->log() != nullptr) index->log()->Close(Status::Unavailable("the node was killed"));
    }
    registry.reset();
    storage.reset();
  }

  // The ids an index holds, sorted.
  std::vector<std::string> Ids(const std::string& name) const {
    std::vector<std::string> ids;
    auto index = registry->Find(name);
    if (!index) return ids;
    index->engine().ForEachLive(
        [&](uint32_t, std::string_view id, const std::string*) { ids.emplace_back(id); });
    std::sort(ids.begin(), ids.end());
    return ids;
  }
};

using Ids = std::vector<std::string>;

class BucketStorageTest : public ::testing::Test {
 protected:
  BucketStorageTest() : pool_(2) {}

  void SetUp() override {
    bucket_dir_ = MakeTempDir("bucket");
    auto root = store::LocalObjectStore::OpenRoot(bucket_dir_, /*sync=*/false);
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    bucket_root_ = std::move(root).value();
    bucket_ = std::make_unique<FaultInjectingObjectStore>(bucket_root_.get());
  }

  void TearDown() override {
    nodes_.clear();
    bucket_.reset();
    bucket_root_.reset();
    std::error_code ec;
    for (const std::string& dir : dirs_) fs::remove_all(dir, ec);
    fs::remove_all(bucket_dir_, ec);
  }

  // Starts a node on `data_dir` (a new empty one when "") and loads.
  Node& StartNode(std::string data_dir = "") {
    if (data_dir.empty()) {
      data_dir = MakeTempDir("node");
      dirs_.push_back(data_dir);
    }
    auto node = std::make_unique<Node>();
    node->data_dir = data_dir;
    auto objects = store::LocalObjectStore::OpenRoot(data_dir, /*sync=*/false);
    EXPECT_TRUE(objects.ok()) << objects.status().ToString();
    node->objects = std::move(objects).value();
    store::LogShipperOptions shipping;
    shipping.retry_pause = 20ms;
    node->mirror = std::make_unique<BucketMirror>(bucket_.get(), node->objects.get(), shipping);
    StorageOptions options;
    options.data_dir = data_dir;
    options.checkpoint_bytes = uint64_t{1} << 40;  // only explicit checkpoints
    node->storage =
        std::make_unique<IndexStorage>(node->objects.get(), options, node->mirror.get());
    node->registry = std::make_unique<Registry>(&pool_);
    node->registry->SetPersistence(node->storage.get());
    node->report = node->storage->LoadAll(*node->registry, &pool_, [] { return false; });
    nodes_.push_back(std::move(node));
    return *nodes_.back();
  }

  // Ends a node as a crash would (no shutdown checkpoint).
  void Kill(Node& node) {
    for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
      if (it->get() == &node) {
        nodes_.erase(it);
        return;
      }
    }
  }

  static std::shared_ptr<Index> Create(Node& node, const std::string& name) {
    CreateSpec spec;
    spec.name = name;
    spec.dimension = 4;
    spec.distance = "euclidean";
    auto index = node.registry->Create(spec);
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? *index : nullptr;
  }

  static Status Add(Node& node, const std::shared_ptr<Index>& index, std::vector<NewItem> items) {
    return node.registry->Add(index, items).status();
  }

  // Creates "docs" on `node`, holding a1; null (and a failure) when either
  // step fails.
  static std::shared_ptr<Index> CreateDocsHoldingA1(Node& node) {
    auto index = Create(node, "docs");
    if (!index) return nullptr;
    Status added = Add(node, index, {Item("a1", 1)});
    EXPECT_TRUE(added.ok()) << added.ToString();
    return added.ok() ? index : nullptr;
  }

  // The next upload of a "docs" log segment lands, but its reply is lost.
  void LoseTheNextSegmentUploadReply() {
    bucket_->SetFilter("_vectors/docs.wal/");
    bucket_->LoseNextReply();
  }

  // Kills `node` and starts one on a new, empty disk, which must load
  // everything from the bucket; the ids of "docs" there.
  Ids IdsOnANewHostAfterKilling(Node& node) {
    Kill(node);
    Node& new_host = StartNode();
    EXPECT_EQ(new_host.report.failed, 0u);
    return new_host.Ids("docs");
  }

  // A node on a new disk creates "docs" and writes a1..a3, a checkpoint
  // (snapshot in the bucket), then a4 (a segment object after it): every
  // write acknowledged at the object_store level. Then it is killed; `dir`
  // gets its disk.
  void KillANodeThatWroteFourItems(std::string* dir) {
    Node& node = StartNode();
    {
      auto index = Create(node, "docs");
      ASSERT_TRUE(index);
      ASSERT_TRUE(Add(node, index, {Item("a1", 1), Item("a2", 2)}).ok());
      ASSERT_TRUE(Add(node, index, {Item("a3", 3)}).ok());
      ASSERT_TRUE(node.storage->Checkpoint(index).ok());
      ASSERT_TRUE(Add(node, index, {Item("a4", 4)}).ok());
    }
    *dir = node.data_dir;
    Kill(node);
  }

  std::vector<std::string> BucketKeys() {
    auto keys = bucket_root_->List("_vectors/");
    EXPECT_TRUE(keys.ok());
    return keys.ok() ? *keys : std::vector<std::string>{};
  }

  ThreadPool pool_;
  std::string bucket_dir_;
  std::unique_ptr<store::LocalObjectStore> bucket_root_;
  std::unique_ptr<FaultInjectingObjectStore> bucket_;
  std::vector<std::string> dirs_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

// A segment upload in flight when its index is dropped must not land in the
// bucket after the drop: the re-created index of the same name ships to the
// same prefix, and a new host would replay the old record into it.
TEST_F(BucketStorageTest, AnUploadInFlightAtDropNeverReachesTheRecreatedIndex) {
  Node& node = StartNode();
  auto old_index = CreateDocsHoldingA1(node);
  ASSERT_TRUE(old_index);

  bucket_->SetFilter("_vectors/docs.wal/");
  bucket_->Hold();
  auto late_write =
      std::async(std::launch::async, [&] { return Add(node, old_index, {Item("a2", 2)}); });
  ASSERT_TRUE([&] {
    for (int i = 0; i < 5000 && bucket_->held_writes() == 0; ++i) std::this_thread::sleep_for(1ms);
    return bucket_->held_writes() == 1;
  }()) << "the upload of a2 never started";
  // The drop must wait for the upload in flight; let it go a little later.
  auto release = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(200ms);
    bucket_->Release();
  });
  ASSERT_TRUE(node.registry->Drop("docs").ok());
  // Without the wait, the re-create below runs while a2's upload is held,
  // and a2 lands in the new index's prefix when it is let go.
  auto new_index = Create(node, "docs");
  ASSERT_TRUE(Add(node, new_index, {Item("b1", 3)}).ok());
  release.get();
  EXPECT_FALSE(late_write.get().ok()) << "a write to a dropped index was acknowledged";
  EXPECT_EQ(node.Ids("docs"), Ids({"b1"}));

  EXPECT_EQ(IdsOnANewHostAfterKilling(node), Ids({"b1"}));
}

// A request routed to an index just before its drop may reach the log just
// after it: it is refused, and nothing of it goes to disk or bucket.
TEST_F(BucketStorageTest, AWriteThatReachesADroppedIndexIsRefusedAndNeverShipped) {
  Node& node = StartNode();
  auto old_index = CreateDocsHoldingA1(node);
  ASSERT_TRUE(old_index);
  ASSERT_TRUE(node.registry->Drop("docs").ok());
  auto new_index = Create(node, "docs");
  ASSERT_TRUE(Add(node, new_index, {Item("b1", 3)}).ok());

  Status late = Add(node, old_index, {Item("x1", 9)});
  EXPECT_FALSE(late.ok());
  EXPECT_NE(late.message().find("dropped"), std::string::npos) << late.ToString();
  EXPECT_TRUE(Add(node, new_index, {Item("b2", 4)}).ok());

  // The same node after a restart, and a new host from the bucket alone.
  const std::string dir = node.data_dir;
  Kill(node);
  EXPECT_EQ(StartNode(dir).Ids("docs"), Ids({"b1", "b2"}));
  EXPECT_EQ(StartNode().Ids("docs"), Ids({"b1", "b2"}));
}

// A checkpoint that reaches the index after its drop committed (the
// background thread had picked it up and waited for the drop to finish)
// writes nothing: not a snapshot over the name a re-create will use, not
// into its log, not to the bucket.
TEST_F(BucketStorageTest, ACheckpointAfterTheDropCommittedWritesNothing) {
  Node& node = StartNode();
  auto old_index = Create(node, "docs");
  ASSERT_TRUE(Add(node, old_index, {Item("a1", 1), Item("a2", 2)}).ok());
  // The storage half of Registry::Drop; the checkpoint runs before the
  // registry's half.
  ASSERT_TRUE(node.storage->OnDrop(*old_index).ok());
  EXPECT_TRUE(node.storage->Checkpoint(old_index).ok());
  EXPECT_FALSE(fs::exists(node.data_dir + "/_vectors/docs.hnsw"));
  EXPECT_FALSE(fs::exists(node.data_dir + "/_vectors/docs.wal"));
  EXPECT_EQ(BucketKeys(), Ids{});

  const std::string dir = node.data_dir;
  Kill(node);
  Node& restarted = StartNode(dir);
  EXPECT_EQ(restarted.report.failed, 0u);
  EXPECT_FALSE(restarted.registry->Find("docs"));
  EXPECT_FALSE(restarted.registry->FailureOf("docs"));
}

// A write whose upload reports failure although the object landed (a lost
// reply) is answered 503 and cancelled. If the cancel record reaches the
// bucket in time, the answer is definite: a host rebuilt from the bucket
// alone does not apply the write.
TEST_F(BucketStorageTest, AFailedWriteWhoseCancelLandsIsNotReplayedFromTheBucket) {
  Node& node = StartNode();
  auto index = CreateDocsHoldingA1(node);
  ASSERT_TRUE(index);
  LoseTheNextSegmentUploadReply();
  Status failed = Add(node, index, {Item("a2", 2)});
  ASSERT_EQ(failed.code(), StatusCode::kUnavailable) << failed.ToString();
  EXPECT_EQ(failed.message().find("outcome unknown"), std::string::npos) << failed.ToString();
  EXPECT_TRUE(Add(node, index, {Item("a3", 3)}).ok());
  EXPECT_EQ(node.Ids("docs"), Ids({"a1", "a3"}));

  EXPECT_EQ(IdsOnANewHostAfterKilling(node), Ids({"a1", "a3"}));  // its disk is gone with it
}

// The same lost reply, and then the store stays down, so the cancel cannot
// follow: the 503 must not claim the write failed for good. Whatever a host
// rebuilt from the bucket then holds, the client was told it might.
TEST_F(BucketStorageTest, AFailedWriteWhoseCancelCannotLandAnswersOutcomeUnknown) {
  Node& node = StartNode();
  auto index = CreateDocsHoldingA1(node);
  ASSERT_TRUE(index);
  LoseTheNextSegmentUploadReply();
  bucket_->GoDownAfterNextWrite();
  Status failed = Add(node, index, {Item("a2", 2)});
  ASSERT_EQ(failed.code(), StatusCode::kUnavailable) << failed.ToString();
  EXPECT_EQ(node.Ids("docs"), Ids({"a1"}));

  Kill(node);  // and its disk, before the store came back
  bucket_->SetDown(false);
  Node& new_host = StartNode();
  if (new_host.Ids("docs") != Ids({"a1"})) {
    EXPECT_NE(failed.message().find("outcome unknown"), std::string::npos)
        << "answered as failed, yet a rebuild from the bucket applies it: " << failed.ToString();
  }
  EXPECT_EQ(new_host.Ids("docs"), Ids({"a1", "a2"}));  // the record landed, its cancel did not
}

// With a bucket, a local copy that does not load is replaced from the
// bucket at start-up, without a request; the damaged files are kept in
// quarantine.
TEST_F(BucketStorageTest, ADamagedLocalCopyIsReplacedFromTheBucketAtStartUp) {
  for (const char* damaged : {"snapshot", "log record"}) {
    SCOPED_TRACE(damaged);
    std::string dir;
    ASSERT_NO_FATAL_FAILURE(KillANodeThatWroteFourItems(&dir));
    if (std::string(damaged) == "snapshot") {
      FlipMiddleByte(dir + "/_vectors/docs.hnsw");
    } else {
      std::vector<std::string> segments = Entries(dir + "/_vectors/docs.wal");
      ASSERT_FALSE(segments.empty());
      FlipMiddleByte(dir + "/_vectors/docs.wal/" + segments.back());
    }

    Node& restarted = StartNode(dir);
    EXPECT_EQ(restarted.report.failed, 0u);
    EXPECT_FALSE(restarted.registry->FailureOf("docs"));
    EXPECT_EQ(restarted.Ids("docs"), Ids({"a1", "a2", "a3", "a4"}));
    std::vector<std::string> quarantined = Entries(dir + "/_quarantine");
    ASSERT_EQ(quarantined.size(), 1u);
    EXPECT_EQ(quarantined[0].rfind("docs.", 0), 0u);
    EXPECT_FALSE(fs::exists(dir + "/_staging/docs"));
    // It serves and ships as before.
    auto index = restarted.registry->Find("docs");
    ASSERT_TRUE(Add(restarted, index, {Item("a5", 5)}).ok());
    EXPECT_EQ(IdsOnANewHostAfterKilling(restarted), Ids({"a1", "a2", "a3", "a4", "a5"}));
    nodes_.clear();
    std::error_code ec;
    fs::remove_all(bucket_dir_ + "/_vectors", ec);
  }
}

// Both copies damaged: the index is failed with both reasons and its local
// files stay where they are. Recover rebuilds from the local files, moves the
// bucket's damaged copy to the bucket's quarantine, and uploads the rebuilt
// index in its place, so that a new host gets it.
TEST_F(BucketStorageTest, WhenBothCopiesAreDamagedRecoverRebuildsAndReplacesTheBucketCopy) {
  std::string dir;
  ASSERT_NO_FATAL_FAILURE(KillANodeThatWroteFourItems(&dir));
  FlipMiddleByte(dir + "/_vectors/docs.hnsw");
  FlipMiddleByte(bucket_dir_ + "/_vectors/docs.hnsw");

  Node& restarted = StartNode(dir);
  auto failure = restarted.registry->FailureOf("docs");
  ASSERT_TRUE(failure);
  EXPECT_NE(failure->find("object store's copy did not load either"), std::string::npos)
      << *failure;
  EXPECT_TRUE(fs::exists(dir + "/_vectors/docs.hnsw"));
  EXPECT_TRUE(fs::exists(dir + "/_vectors/docs.json"));

  auto recovered = restarted.registry->Recover("docs");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_TRUE(recovered->loaded_object_store_copy.empty());
  EXPECT_NE(recovered->report.object_store_note.find("did not load either"), std::string::npos);
  // The snapshot is lost; the log after it (a4) is kept.
  EXPECT_EQ(restarted.Ids("docs"), Ids({"a4"}));
  std::vector<std::string> bucket_quarantine = Entries(bucket_dir_ + "/_quarantine");
  ASSERT_EQ(bucket_quarantine.size(), 1u);
  EXPECT_TRUE(fs::exists(bucket_dir_ + "/_quarantine/" + bucket_quarantine[0] + "/docs.hnsw"));
  EXPECT_TRUE(fs::exists(bucket_dir_ + "/_quarantine/" + bucket_quarantine[0] + "/docs.json"));

  auto index = restarted.registry->Find("docs");
  ASSERT_TRUE(Add(restarted, index, {Item("b1", 9)}).ok());
  EXPECT_EQ(IdsOnANewHostAfterKilling(restarted), Ids({"a4", "b1"}));
}

// A failed index whose bucket copy loads (the bucket was unreachable when it
// was tried at start-up): recover is refused and that copy is served, with
// every acknowledged write.
// Deleting a failed index whose bucket copy is damaged too quarantines both
// copies, which frees the name everywhere: a create of it succeeds and a new
// host sees only the new index.
TEST_F(BucketStorageTest, DeletingAFailedIndexQuarantinesBothCopiesAndFreesTheName) {
  std::string dir;
  ASSERT_NO_FATAL_FAILURE(KillANodeThatWroteFourItems(&dir));
  FlipMiddleByte(dir + "/_vectors/docs.hnsw");
  FlipMiddleByte(bucket_dir_ + "/_vectors/docs.hnsw");
  Node& restarted = StartNode(dir);
  ASSERT_TRUE(restarted.registry->FailureOf("docs"));

  // While the bucket cannot be reached, the delete changes nothing.
  bucket_->SetDown(true);
  EXPECT_EQ(restarted.registry->Drop("docs").code(), StatusCode::kUnavailable);
  EXPECT_TRUE(restarted.registry->FailureOf("docs"));
  EXPECT_TRUE(fs::exists(dir + "/_vectors/docs.json"));
  bucket_->SetDown(false);

  ASSERT_TRUE(restarted.registry->Drop("docs").ok());
  const std::vector<std::string> local = Entries(dir + "/_quarantine");
  const std::vector<std::string> remote = Entries(bucket_dir_ + "/_quarantine");
  ASSERT_EQ(local.size(), 1u);
  EXPECT_EQ(remote, local) << "one folder name for both copies";
  EXPECT_TRUE(fs::exists(bucket_dir_ + "/_quarantine/" + remote[0] + "/docs.json"));
  EXPECT_EQ(BucketKeys(), Ids{});

  auto created = Create(restarted, "docs");
  ASSERT_NE(created, nullptr);
  ASSERT_TRUE(Add(restarted, created, {Item("n1", 1)}).ok());
  EXPECT_EQ(IdsOnANewHostAfterKilling(restarted), Ids({"n1"}));
}

TEST_F(BucketStorageTest, RecoverWithACompleteBucketCopyIsRefusedAndLoadsIt) {
  std::string dir;
  ASSERT_NO_FATAL_FAILURE(KillANodeThatWroteFourItems(&dir));
  FlipMiddleByte(dir + "/_vectors/docs.hnsw");

  bucket_->SetFilter("_vectors/docs.hnsw");
  bucket_->SetDown(true);
  Node& restarted = StartNode(dir);
  ASSERT_TRUE(restarted.registry->FailureOf("docs"));
  bucket_->SetDown(false);

  auto recovered = restarted.registry->Recover("docs");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_NE(recovered->loaded_object_store_copy.find("recover refused"), std::string::npos)
      << recovered->loaded_object_store_copy;
  EXPECT_EQ(restarted.Ids("docs"), Ids({"a1", "a2", "a3", "a4"}));
  EXPECT_FALSE(restarted.registry->FailureOf("docs"));
  EXPECT_EQ(Entries(dir + "/_quarantine").size(), 1u);
  EXPECT_FALSE(fs::exists(bucket_dir_ + "/_quarantine"));
}

// Once the bucket is listed a create skips its checks of the bucket — but
// not for a name whose drop could not delete its segment objects: those
// would otherwise come back into the new index of the same name.
TEST_F(BucketStorageTest, ACreateAfterADropThatLeftSegmentsClearsThem) {
  Node& node = StartNode();
  auto docs = CreateDocsHoldingA1(node);
  ASSERT_NE(docs, nullptr);
  ASSERT_TRUE(Add(node, docs, {Item("a2", 2)}).ok());  // a second segment object
  docs.reset();
  bucket_->SetFilter("_vectors/docs.wal/");
  bucket_->SetDown(true);  // the segments cannot be listed or deleted
  ASSERT_TRUE(node.registry->Drop("docs").ok());
  bucket_->SetDown(false);
  bucket_->SetFilter("");
  ASSERT_FALSE(bucket_root_->List("_vectors/docs.wal/")->empty());  // left behind

  auto again = Create(node, "docs");
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(Add(node, again, {Item("b1", 1)}).ok());
  again.reset();
  EXPECT_EQ(IdsOnANewHostAfterKilling(node), (Ids{"b1"}));
}

// Start-up with a bucket of many indexes must not wait for the bucket's
// listing: it waits only until the bucket answers, registers the local
// indexes, and lists the bucket afterwards. Meanwhile a local index loads
// with a listing of its own keys, and a name only the bucket holds (or a
// create, which could collide with one) waits for the listing, which then
// registers it and removes what unfinished creates left in the bucket.
TEST_F(BucketStorageTest, TheBucketIsListedAfterStartUpAndNamesWaitForIt) {
  std::string dir;
  {
    Node& first = StartNode();
    dir = first.data_dir;
    ASSERT_NE(CreateDocsHoldingA1(first), nullptr);
    auto remote = Create(first, "remote");
    ASSERT_NE(remote, nullptr);
    ASSERT_TRUE(Add(first, remote, {Item("r1", 1)}).ok());
    Kill(first);
  }
  // This disk lost "remote"; the bucket also holds what a create cut short
  // left (a snapshot with no parameters).
  for (const char* file : {"_vectors/remote.json", "_vectors/remote.wal"}) {
    fs::remove_all(dir + "/" + file);
  }
  {
    auto leftover = bucket_->Create("_vectors/leftover.hnsw");
    ASSERT_TRUE(leftover.ok());
    ASSERT_TRUE((*leftover)->Write("x", 1).ok());
    ASSERT_TRUE((*leftover)->Commit().ok());
  }

  bucket_->HoldListsOf("_vectors/");
  auto node = std::make_unique<Node>();
  node->data_dir = dir;
  node->objects = std::move(store::LocalObjectStore::OpenRoot(dir, false)).value();
  node->mirror = std::make_unique<BucketMirror>(bucket_.get(), node->objects.get());
  StorageOptions options;
  options.data_dir = dir;
  options.checkpoint_bytes = uint64_t{1} << 40;
  options.list_bucket_after_start = true;
  node->storage = std::make_unique<IndexStorage>(node->objects.get(), options, node->mirror.get());
  node->registry = std::make_unique<Registry>(&pool_);
  node->registry->SetPersistence(node->storage.get());
  // Before `node` goes, so that a failed assertion does not leave its
  // listing thread blocked in the held listing.
  struct ReleaseListsOnExit {
    FaultInjectingObjectStore* bucket;
    ~ReleaseListsOnExit() { bucket->ReleaseLists(); }
  } release_on_exit{bucket_.get()};
  node->report = node->storage->Survey(*node->registry, [] { return false; });
  EXPECT_EQ(node->report.failed, 0u);
  EXPECT_EQ(node->report.names, (Ids{"docs"}));
  Registry& registry = *node->registry;
  EXPECT_TRUE(registry.discovering());

  std::vector<std::string> listed;
  std::atomic<bool> listing_done{false};
  node->storage->StartBucketListing(registry, [&](std::vector<std::string> names) {
    listed = std::move(names);
    listing_done = true;
  });
  // A local index loads while the bucket's listing is held.
  auto docs = registry.Open("docs");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_EQ((*docs)->size(), 1u);
  EXPECT_TRUE(registry.discovering());
  // A name only the bucket holds waits for the listing.
  std::atomic<bool> opened{false};
  Result<std::shared_ptr<Index>> remote = Status::Internal("not yet");
  std::thread opener([&] {
    remote = registry.Open("remote");
    opened = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(opened.load());
  bucket_->ReleaseLists();
  opener.join();
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  EXPECT_TRUE((*remote)->engine().Get("r1").has_value());
  for (int i = 0; i < 500 && !listing_done.load(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(listing_done.load());
  EXPECT_FALSE(registry.discovering());
  EXPECT_EQ(listed, (Ids{"docs", "remote"}));
  EXPECT_FALSE(bucket_root_->Exists("_vectors/leftover.hnsw"));
  EXPECT_EQ(registry.Open("nothing").status().code(), StatusCode::kNotFound);
  auto fresh = Create(*node, "fresh");
  ASSERT_NE(fresh, nullptr);
  ASSERT_TRUE(Add(*node, fresh, {Item("f1", 1)}).ok());
  docs->reset();
  remote->reset();
  fresh.reset();
  nodes_.push_back(std::move(node));
}

}  // namespace
}  // namespace vectord::service
