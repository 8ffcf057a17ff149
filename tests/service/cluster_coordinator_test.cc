// ClusterCoordinator in process, against a real etcd and a real S3 server
// (s3rver) on loopback ports. Each node is what src/main.cc builds in
// cluster mode — its own worker pool, registry, etcd client, bucket client,
// membership and coordinator — so several nodes share one etcd and one
// bucket exactly as processes do, but a test can reach into each one: who
// is the writer, what each replica applied, which Index object it serves.
//
// Covered: election and replication of a node's writes; the chain rule a
// replica follows through objects of several terms (checked on objects
// crafted by hand, both as a watch delivers them and as a new node lists
// them); a writer whose term is taken while a commit is in flight; drop and
// re-create of a name; concurrent writers sharing group commits; etcd going
// away and coming back.
#include "service/cluster_coordinator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_pool.h"
#include "fault_injecting_object_store.h"
#include "service/cluster_membership.h"
#include "service/index_registry.h"
#include "service/log_records.h"
#include "service/params_file.h"
#include "store/etcd_client.h"
#include "store/log_format.h"
#include "store/s3_object_store.h"
#include "support/etcd_server.h"
#include "support/s3_server.h"

namespace vectord::service {
namespace {

using namespace std::chrono_literals;
using store::log_format::RecordType;
using testing::FaultInjectingObjectStore;

constexpr char kPrefix[] = "/vectord/";
constexpr uint32_t kDimension = 4;

template <typename Fn>
bool Eventually(Fn done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

NewItem Item(const std::string& id, float x, std::optional<std::string> metadata = std::nullopt) {
  return NewItem{id, {x, 1, 2, 3}, std::move(metadata)};
}

std::vector<NewItem> Items(const std::string& id, float x) { return {Item(id, x)}; }

// The coordinator's names, spelled out independently of it: a test that
// crafts objects must agree with the format, not with the code under test.
std::string Padded(uint64_t n) {
  char text[24];
  std::snprintf(text, sizeof text, "%020" PRIu64, n);
  return text;
}

std::string ObjectFolder(const std::string& name, int64_t incarnation) {
  return "_cluster/" + name + "/" + Padded(static_cast<uint64_t>(incarnation)) + "/";
}

std::string ObjectKey(const std::string& name, int64_t incarnation, uint64_t first, uint64_t last,
                      int64_t term) {
  return ObjectFolder(name, incarnation) + Padded(first) + "-" + Padded(last) + "." +
         Padded(static_cast<uint64_t>(term)) + ".log";
}

std::string CommittedJson(uint64_t sequence, int64_t term, int64_t incarnation,
                          const std::string& object) {
  return "{\"sequence\":" + std::to_string(sequence) + ",\"term\":" + std::to_string(term) +
         ",\"incarnation\":" + std::to_string(incarnation) + ",\"object\":\"" + object + "\"}";
}

struct Record {
  RecordType type;
  std::string payload;
};

Record Upsert(const std::string& id, float x) {
  const std::vector<NewItem> items = {Item(id, x)};
  return {RecordType::kUpsert, EncodeUpsert(items)};
}

Record Delete(const std::string& id) {
  const std::vector<std::string> ids = {id};
  return {RecordType::kDelete, EncodeDelete(ids)};
}

// A segment object as a writer PUTs it: records first, first+1, ...
std::string Segment(uint64_t first, const std::vector<Record>& records) {
  std::string body = store::log_format::EncodeSegmentHeader(kDimension, first);
  for (size_t i = 0; i < records.size(); ++i) {
    body += store::log_format::FrameRecord(first + i, records[i].type, records[i].payload);
  }
  return body;
}

bool Has(const Index& index, const std::string& id) { return index.Get(id).has_value(); }

// Whether `id` holds Item(id, x)'s vector. A cosine index keeps vectors
// normalised, so what comes back differs from what went in by rounding.
::testing::AssertionResult HoldsVector(const Index& index, const std::string& id, float x) {
  const std::optional<StoredItem> item = index.Get(id);
  if (!item) return ::testing::AssertionFailure() << id << " is missing";
  const std::vector<float> want = Item(id, x).vector;
  if (item->vector.size() != want.size()) {
    return ::testing::AssertionFailure() << id << " has " << item->vector.size() << " dimensions";
  }
  for (size_t d = 0; d < want.size(); ++d) {
    if (std::abs(item->vector[d] - want[d]) > 1e-4f * std::max(1.0f, std::abs(want[d]))) {
      return ::testing::AssertionFailure()
             << id << "[" << d << "] is " << item->vector[d] << ", not " << want[d];
    }
  }
  return ::testing::AssertionSuccess();
}

// One vectord process in cluster mode, as src/main.cc assembles it. Its
// bucket goes through a FaultInjectingObjectStore so that a test can hold
// this node's uploads in flight.
struct Node {
  Node(std::string node_id, const std::string& etcd_endpoint, const vectord::testing::S3Server& s3)
      : id(std::move(node_id)) {
    store::EtcdOptions etcd_options;
    etcd_options.endpoints = {etcd_endpoint};
    etcd_options.request_timeout = 1000ms;
    etcd = std::make_unique<store::EtcdClient>(etcd_options);
    auto opened = store::S3ObjectStore::Open(s3.Options());
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (opened.ok()) s3_store = std::move(*opened);
    bucket = std::make_unique<FaultInjectingObjectStore>(s3_store.get());
    url = "http://127.0.0.1:" + std::to_string(9000 + id.back());
    MembershipOptions membership_options;
    membership_options.node_id = id;
    membership_options.advertise_url = url;
    membership_options.key_prefix = kPrefix;
    membership_options.storaged_url = s3.url();
    membership_options.lease_ttl = 1000ms;
    membership = std::make_unique<ClusterMembership>(etcd.get(), membership_options);
    CoordinatorOptions coordinator_options;
    coordinator_options.node_id = id;
    coordinator_options.advertise_url = url;
    coordinator_options.key_prefix = kPrefix;
    coordinator_options.check_interval = 50ms;
    coordinator = std::make_unique<ClusterCoordinator>(etcd.get(), membership.get(), bucket.get(),
                                                       &registry, coordinator_options);
  }

  // As at shutdown: the coordinator stops before the lease is revoked. A
  // held upload is let go first, or a write waiting on it could not end.
  ~Node() {
    bucket->Release();
    coordinator->Stop();
    coordinator.reset();
    membership.reset();
  }

  // Join, then build every replica, bounded so that a broken start fails
  // the test instead of hanging it.
  Status Start() {
    if (s3_store == nullptr) return Status::Unavailable("no bucket client");
    VECTORD_RETURN_IF_ERROR(membership->Join());
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    VECTORD_RETURN_IF_ERROR(
        coordinator->Start([deadline] { return std::chrono::steady_clock::now() < deadline; }));
    registry.SetPersistence(coordinator.get());
    return Status::Ok();
  }

  std::shared_ptr<Index> Find(const std::string& name) const { return registry.FindLoaded(name); }

  // Holds until this node's replica has everything etcd says is committed.
  Status StrongRead(const std::string& name) {
    return coordinator->WaitForRead(name, /*strong=*/true, 0,
                                    std::chrono::steady_clock::now() + 10s);
  }

  const std::string id;
  std::string url;
  ThreadPool workers{2};
  Registry registry{&workers};
  std::unique_ptr<store::EtcdClient> etcd;
  std::unique_ptr<store::S3ObjectStore> s3_store;
  std::unique_ptr<FaultInjectingObjectStore> bucket;
  std::unique_ptr<ClusterMembership> membership;
  std::unique_ptr<ClusterCoordinator> coordinator;
};

class ClusterCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = vectord::testing::EtcdServer::Start();
    ASSERT_NE(etcd_, nullptr) << "etcd is needed (scripts/install-deps.sh)";
    s3_ = vectord::testing::S3Server::Start();
    ASSERT_NE(s3_, nullptr) << "s3rver is needed (scripts/install-deps.sh)";
    store::EtcdOptions options;
    options.endpoints = {etcd_->endpoint()};
    options.request_timeout = 1000ms;
    client_ = std::make_unique<store::EtcdClient>(options);
    auto bucket = store::S3ObjectStore::Open(s3_->Options());
    ASSERT_TRUE(bucket.ok()) << bucket.status().ToString();
    bucket_ = std::move(*bucket);
  }

  // A started node; null (and a failure recorded) if it did not start.
  std::unique_ptr<Node> StartNode(const std::string& id) {
    auto node = std::make_unique<Node>(id, etcd_->endpoint(), *s3_);
    const Status started = node->Start();
    EXPECT_TRUE(started.ok()) << id << ": " << started.ToString();
    if (!started.ok()) return nullptr;
    return node;
  }

  // A node that has become the writer.
  std::unique_ptr<Node> StartWriter(const std::string& id) {
    std::unique_ptr<Node> node = StartNode(id);
    if (node == nullptr) return nullptr;
    const bool elected = Eventually([&] { return node->coordinator->IsWriter(); });
    EXPECT_TRUE(elected) << id << " did not become the writer";
    if (!elected) return nullptr;
    return node;
  }

  std::shared_ptr<Index> CreateIndex(Node& writer, const std::string& name) {
    CreateSpec spec;
    spec.name = name;
    spec.dimension = kDimension;
    auto created = writer.registry.Create(spec);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : nullptr;
  }

  // The incarnation etcd holds for an index: its key's create_revision.
  int64_t Incarnation(const std::string& name) {
    auto key = client_->Get(std::string(kPrefix) + "indexes/" + name);
    if (!key.ok() || !key->has_value()) return 0;
    return (*key)->create_revision;
  }

  static std::string WriterKey() { return std::string(kPrefix) + "writer"; }

  std::unique_ptr<vectord::testing::EtcdServer> etcd_;
  std::unique_ptr<vectord::testing::S3Server> s3_;
  std::unique_ptr<store::EtcdClient> client_;
  std::unique_ptr<store::S3ObjectStore> bucket_;
};

TEST_F(ClusterCoordinatorTest, TheFirstNodeWritesAndTheOtherReplicatesEveryCommit) {
  std::unique_ptr<Node> a = StartWriter("a");
  ASSERT_NE(a, nullptr);
  std::unique_ptr<Node> b = StartNode("b");
  ASSERT_NE(b, nullptr);
  // The term is the writer key's mod_revision, and b learns who writes.
  auto writer_key = client_->Get(WriterKey());
  ASSERT_TRUE(writer_key.ok() && writer_key->has_value());
  ASSERT_TRUE(a->coordinator->Writer().has_value());
  EXPECT_EQ(a->coordinator->Writer()->term, (*writer_key)->mod_revision);
  EXPECT_TRUE(Eventually([&] {
    auto seen = b->coordinator->Writer();
    return seen.has_value() && seen->node == "a" && seen->url == a->url;
  }));
  EXPECT_FALSE(b->coordinator->IsWriter());

  std::shared_ptr<Index> index = CreateIndex(*a, "docs");
  ASSERT_NE(index, nullptr);
  constexpr uint64_t kAdds = 5;
  for (uint64_t i = 0; i < kAdds; ++i) {
    const std::vector<NewItem> items = {Item("item" + std::to_string(i), static_cast<float>(i),
                                             R"({"n":)" + std::to_string(i) + "}")};
    auto written = a->registry.Add(index, items);
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    EXPECT_EQ(written->sequence, i + 1);
  }
  const std::vector<std::string> removed = {"item0"};
  auto remove = a->registry.Remove(index, removed);
  ASSERT_TRUE(remove.ok()) << remove.status().ToString();
  EXPECT_EQ(remove->sequence, kAdds + 1);
  EXPECT_EQ(index->applied_sequence(), kAdds + 1);

  // A write on the replica is refused, not committed behind the writer.
  std::shared_ptr<Index> replica;
  ASSERT_TRUE(Eventually([&] { return (replica = b->Find("docs")) != nullptr; }));
  auto refused = b->registry.Add(replica, Items("not-here", 9));
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();

  EXPECT_TRUE(
      b->coordinator
          ->WaitForRead("docs", /*strong=*/false, kAdds + 1, std::chrono::steady_clock::now() + 10s)
          .ok());
  const Status strong = b->StrongRead("docs");
  ASSERT_TRUE(strong.ok()) << strong.ToString();
  EXPECT_EQ(replica->applied_sequence(), kAdds + 1);
  EXPECT_FALSE(Has(*replica, "item0"));
  EXPECT_FALSE(Has(*replica, "not-here"));
  for (uint64_t i = 1; i < kAdds; ++i) {
    auto item = replica->Get("item" + std::to_string(i));
    ASSERT_TRUE(item.has_value()) << "item" << i;
    EXPECT_TRUE(HoldsVector(*replica, "item" + std::to_string(i), static_cast<float>(i)));
    EXPECT_EQ(item->metadata, R"({"n":)" + std::to_string(i) + "}");
  }
  EXPECT_EQ(replica->size(), kAdds - 1);
}

// Objects written by hand, as three writers of successive terms A < B < D
// (and one, C, whose commit never happened) would leave them:
//   1-3.A  records 1, 2 committed in A; record 3 ("stale3") never was
//   3-4.B  B took over after 2: b3, then a delete of a1
//   5-5.C  a writer elected after B whose commit failed ("stale5")
//   5-6.D  the writer after C, from 5 again
// A replica must apply 1-2 of A, 3-4 of B and 5-6 of D: the object of the
// highest term that starts at or before each sequence. Node n1 follows the
// commits as they happen (the committed values name the objects); node n2
// starts at the end and finds the chain by listing the bucket.
TEST_F(ClusterCoordinatorTest, ReplicasFollowTheChainOfTermsAndSkipRecordsThatWereNeverCommitted) {
  // Nobody may write: a lease that no node holds keeps the writer key.
  auto ghost = client_->GrantLease(60s);
  ASSERT_TRUE(ghost.ok()) << ghost.status().ToString();
  ASSERT_TRUE(
      client_->Put(WriterKey(), R"({"node":"ghost","url":"http://127.0.0.1:1"})", *ghost).ok());

  const std::string name = "fenced";
  CreateSpec spec;
  spec.name = name;
  spec.dimension = kDimension;
  auto params = ResolveParams(spec);
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  ASSERT_TRUE(client_->Put(std::string(kPrefix) + "indexes/" + name, ParamsJson(*params)).ok());
  const int64_t incarnation = Incarnation(name);
  ASSERT_GT(incarnation, 0);
  const std::string committed_key = std::string(kPrefix) + "committed/" + name;
  constexpr int64_t kTermA = 100, kTermB = 200, kTermC = 300, kTermD = 400;

  const std::string a13 = ObjectKey(name, incarnation, 1, 3, kTermA);
  ASSERT_TRUE(
      bucket_->Put(a13, Segment(1, {Upsert("a1", 1), Upsert("a2", 2), Upsert("stale3", 3)})).ok());
  ASSERT_TRUE(client_->Put(committed_key, CommittedJson(2, kTermA, incarnation, a13)).ok());

  std::unique_ptr<Node> n1 = StartNode("n1");
  ASSERT_NE(n1, nullptr);
  std::shared_ptr<Index> r1 = n1->Find(name);
  ASSERT_NE(r1, nullptr);
  // Start holds until what was committed is applied: exactly 1-2.
  EXPECT_EQ(r1->applied_sequence(), 2u);
  EXPECT_TRUE(Has(*r1, "a1"));
  EXPECT_TRUE(Has(*r1, "a2"));
  EXPECT_FALSE(Has(*r1, "stale3"));
  EXPECT_TRUE(Eventually([&] {
    auto writer = n1->coordinator->Writer();
    return writer.has_value() && writer->node == "ghost";
  }));
  EXPECT_FALSE(n1->coordinator->IsWriter());

  const std::string b34 = ObjectKey(name, incarnation, 3, 4, kTermB);
  ASSERT_TRUE(bucket_->Put(b34, Segment(3, {Upsert("b3", 30), Delete("a1")})).ok());
  ASSERT_TRUE(client_->Put(committed_key, CommittedJson(4, kTermB, incarnation, b34)).ok());
  ASSERT_TRUE(n1->StrongRead(name).ok());
  EXPECT_EQ(r1->applied_sequence(), 4u);
  EXPECT_FALSE(Has(*r1, "stale3"));
  EXPECT_TRUE(Has(*r1, "b3"));
  EXPECT_FALSE(Has(*r1, "a1"));

  const std::string c55 = ObjectKey(name, incarnation, 5, 5, kTermC);
  const std::string d56 = ObjectKey(name, incarnation, 5, 6, kTermD);
  ASSERT_TRUE(bucket_->Put(c55, Segment(5, {Upsert("stale5", 5)})).ok());
  ASSERT_TRUE(bucket_->Put(d56, Segment(5, {Upsert("d5", 50), Upsert("d6", 60)})).ok());
  ASSERT_TRUE(client_->Put(committed_key, CommittedJson(6, kTermD, incarnation, d56)).ok());
  ASSERT_TRUE(n1->StrongRead(name).ok());

  std::unique_ptr<Node> n2 = StartNode("n2");
  ASSERT_NE(n2, nullptr);
  ASSERT_TRUE(n2->StrongRead(name).ok());
  std::shared_ptr<Index> r2 = n2->Find(name);
  ASSERT_NE(r2, nullptr);

  for (const auto& [node, replica] : {std::pair{"n1", r1}, std::pair{"n2", r2}}) {
    SCOPED_TRACE(node);
    EXPECT_EQ(replica->applied_sequence(), 6u);
    EXPECT_FALSE(Has(*replica, "stale3"));
    EXPECT_FALSE(Has(*replica, "stale5"));
    EXPECT_FALSE(Has(*replica, "a1"));  // deleted by B's record 4
    for (const char* id : {"a2", "b3", "d5", "d6"}) EXPECT_TRUE(Has(*replica, id)) << id;
    EXPECT_EQ(replica->size(), 4u);
    EXPECT_TRUE(HoldsVector(*replica, "b3", 30));
  }
}

// The writer a is paused in the middle of a commit (its upload held), and
// meanwhile loses the writer key to b — what a is left with when its lease
// ran out during a pause. When a resumes, its object lands in the bucket
// but its commit fails the term compare: the write is refused and applied
// nowhere, neither on a, nor on b, nor on a node that builds its replica
// from the bucket afterwards, while b's writes of the same sequence are.
TEST_F(ClusterCoordinatorTest, AWriterWhoseTermEndedMidCommitHasItsWriteRefusedAndAppliedNowhere) {
  std::unique_ptr<Node> a = StartWriter("a");
  ASSERT_NE(a, nullptr);
  std::unique_ptr<Node> b = StartNode("b");
  ASSERT_NE(b, nullptr);
  std::shared_ptr<Index> index = CreateIndex(*a, "docs");
  ASSERT_NE(index, nullptr);
  auto first = a->registry.Add(index, Items("x1", 1));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(b->StrongRead("docs").ok());
  const int64_t term_a = a->coordinator->Writer()->term;

  a->bucket->SetFilter("_cluster/docs/");
  a->bucket->Hold();
  std::future<Result<WriteResult>> paused =
      std::async(std::launch::async, [&] { return a->registry.Add(index, Items("stale", 2)); });
  // Declared after the future, so destroyed before it: an early return lets
  // the held upload go instead of waiting on it forever.
  struct ReleaseOnExit {
    FaultInjectingObjectStore* store;
    ~ReleaseOnExit() { store->Release(); }
  } release_on_exit{a->bucket.get()};
  ASSERT_TRUE(Eventually([&] { return a->bucket->held_writes() == 1; }));

  // b is elected behind a's back: the key now names b, on b's lease.
  ASSERT_TRUE(
      client_->Put(WriterKey(), R"({"node":"b","url":")" + b->url + R"("})", b->membership->lease())
          .ok());
  ASSERT_TRUE(Eventually([&] { return b->coordinator->IsWriter(); }));
  EXPECT_TRUE(Eventually([&] { return !a->coordinator->IsWriter(); }));
  const int64_t term_b = b->coordinator->Writer()->term;
  EXPECT_GT(term_b, term_a);

  // b writes sequence 2 while a's record 2 is still on its way.
  std::shared_ptr<Index> on_b = b->Find("docs");
  ASSERT_NE(on_b, nullptr);
  Result<WriteResult> second = Status::Unavailable("not tried");
  ASSERT_TRUE(Eventually([&] {
    // b takes writes once it has caught up in its new term.
    second = b->registry.Add(on_b, Items("fresh2", 20));
    return second.ok();
  })) << second.status().ToString();
  EXPECT_EQ(second->sequence, 2u);

  a->bucket->Release();
  ASSERT_EQ(paused.wait_for(10s), std::future_status::ready);
  Result<WriteResult> refused = paused.get();
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
  // Its object did land: the replicas must tell it apart by its term.
  const std::string stale_object = ObjectKey("docs", Incarnation("docs"), 2, 2, term_a);
  EXPECT_TRUE(bucket_->Get(stale_object).ok()) << stale_object;
  // And a's next write is refused at once: it is not the writer.
  auto again = a->registry.Add(index, Items("stale-again", 3));
  EXPECT_EQ(again.status().code(), StatusCode::kUnavailable) << again.status().ToString();

  auto third = b->registry.Add(on_b, Items("fresh3", 30));
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->sequence, 3u);

  std::unique_ptr<Node> c = StartNode("c");
  ASSERT_NE(c, nullptr);
  for (Node* node : {a.get(), b.get(), c.get()}) {
    SCOPED_TRACE(node->id);
    const Status read = node->StrongRead("docs");
    ASSERT_TRUE(read.ok()) << read.ToString();
    std::shared_ptr<Index> replica = node->Find("docs");
    ASSERT_NE(replica, nullptr);
    EXPECT_EQ(replica->applied_sequence(), 3u);
    EXPECT_FALSE(Has(*replica, "stale"));
    EXPECT_FALSE(Has(*replica, "stale-again"));
    for (const char* id : {"x1", "fresh2", "fresh3"}) EXPECT_TRUE(Has(*replica, id)) << id;
    EXPECT_EQ(replica->size(), 3u);
  }
}

// A drop and a create of the same name, back to back on the writer: the
// other node ends with a new Index holding only the new incarnation's
// items, although the old one had applied more records than the new one
// has (so its sequence alone would satisfy a read of the new).
TEST_F(ClusterCoordinatorTest, DropThenCreateLeavesOnlyTheNewIncarnationOnTheReplica) {
  std::unique_ptr<Node> a = StartWriter("a");
  ASSERT_NE(a, nullptr);
  std::unique_ptr<Node> b = StartNode("b");
  ASSERT_NE(b, nullptr);
  std::shared_ptr<Index> old_index = CreateIndex(*a, "docs");
  ASSERT_NE(old_index, nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(a->registry.Add(old_index, Items("old" + std::to_string(i), i)).ok());
  }
  ASSERT_TRUE(b->StrongRead("docs").ok());
  std::shared_ptr<Index> old_replica = b->Find("docs");
  ASSERT_NE(old_replica, nullptr);
  ASSERT_EQ(old_replica->applied_sequence(), 3u);
  const int64_t old_incarnation = Incarnation("docs");

  ASSERT_TRUE(a->registry.Drop("docs").ok());
  std::shared_ptr<Index> new_index = CreateIndex(*a, "docs");
  ASSERT_NE(new_index, nullptr);
  auto written = a->registry.Add(new_index, Items("new0", 7));
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->sequence, 1u);
  EXPECT_GT(Incarnation("docs"), old_incarnation);

  const Status read = b->StrongRead("docs");
  ASSERT_TRUE(read.ok()) << read.ToString();
  std::shared_ptr<Index> new_replica = b->Find("docs");
  ASSERT_NE(new_replica, nullptr);
  EXPECT_NE(new_replica, old_replica);
  EXPECT_TRUE(old_replica->dropped());
  EXPECT_FALSE(new_replica->dropped());
  EXPECT_EQ(new_replica->applied_sequence(), 1u);
  EXPECT_TRUE(Has(*new_replica, "new0"));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Has(*new_replica, "old" + std::to_string(i))) << i;
  EXPECT_EQ(new_replica->size(), 1u);
  // The writer serves the new incarnation too, with nothing of the old.
  EXPECT_EQ(a->Find("docs"), new_index);
  EXPECT_EQ(new_index->size(), 1u);
  // The old incarnation's objects are gone from the bucket.
  auto old_objects = bucket_->List(ObjectFolder("docs", old_incarnation));
  ASSERT_TRUE(old_objects.ok());
  EXPECT_TRUE(old_objects->empty());
}

// Writers on several threads of the writer share group commits: every write
// gets its own sequence, the sequences are 1..N with no gap, the objects in
// the bucket cover exactly 1..N, and the replica holds every id.
TEST_F(ClusterCoordinatorTest, ConcurrentWritersGetDistinctSequencesAndTheReplicaConverges) {
  std::unique_ptr<Node> a = StartWriter("a");
  ASSERT_NE(a, nullptr);
  std::unique_ptr<Node> b = StartNode("b");
  ASSERT_NE(b, nullptr);
  std::shared_ptr<Index> index = CreateIndex(*a, "docs");
  ASSERT_NE(index, nullptr);

  constexpr int kThreads = 4, kWrites = 50;
  // Each thread fills only its own vectors; they are read after join.
  std::vector<std::vector<uint64_t>> sequences(kThreads);
  std::vector<std::vector<std::string>> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto written = a->registry.Add(index, Items(id, static_cast<float>(t * kWrites + i)));
        if (written.ok()) {
          sequences[t].push_back(written->sequence);
        } else {
          errors[t].push_back(id + ": " + written.status().ToString());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::vector<uint64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(errors[t].empty()) << errors[t].front();
    // One thread's writes follow each other, so their sequences rise.
    EXPECT_TRUE(std::is_sorted(sequences[t].begin(), sequences[t].end()));
    all.insert(all.end(), sequences[t].begin(), sequences[t].end());
  }
  std::sort(all.begin(), all.end());
  std::vector<uint64_t> expected(kThreads * kWrites);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
  EXPECT_EQ(all, expected);
  EXPECT_EQ(index->applied_sequence(), expected.size());
  EXPECT_EQ(index->size(), expected.size());

  // One term, and objects that tile 1..N.
  auto keys = bucket_->List(ObjectFolder("docs", Incarnation("docs")));
  ASSERT_TRUE(keys.ok());
  std::sort(keys->begin(), keys->end());
  uint64_t next = 1;
  for (const std::string& key : *keys) {
    const std::string leaf = key.substr(key.rfind('/') + 1);
    unsigned long long first = 0, last = 0, term = 0;
    ASSERT_EQ(std::sscanf(leaf.c_str(), "%20llu-%20llu.%20llu.log", &first, &last, &term), 3)
        << key;
    EXPECT_EQ(first, next) << key;
    EXPECT_EQ(static_cast<int64_t>(term), a->coordinator->Writer()->term) << key;
    next = last + 1;
  }
  EXPECT_EQ(next, expected.size() + 1);

  const Status read = b->StrongRead("docs");
  ASSERT_TRUE(read.ok()) << read.ToString();
  std::shared_ptr<Index> replica = b->Find("docs");
  ASSERT_NE(replica, nullptr);
  EXPECT_EQ(replica->applied_sequence(), expected.size());
  EXPECT_EQ(replica->size(), expected.size());
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kWrites; ++i) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      EXPECT_TRUE(HoldsVector(*replica, id, static_cast<float>(t * kWrites + i)));
    }
  }
}

// etcd goes away: a write on the writer fails with Unavailable naming etcd
// and is applied nowhere (its object may be in the bucket; no commit names
// it), eventual reads go on, strong reads say etcd is missing. When etcd
// returns, some node is the writer again within a bound and writes succeed
// there; both nodes converge without the failed write.
TEST_F(ClusterCoordinatorTest, WritesFailNamingEtcdWhileItIsDownAndSucceedAfterItReturns) {
  std::unique_ptr<Node> a = StartWriter("a");
  ASSERT_NE(a, nullptr);
  std::unique_ptr<Node> b = StartNode("b");
  ASSERT_NE(b, nullptr);
  std::shared_ptr<Index> index = CreateIndex(*a, "docs");
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(a->registry.Add(index, Items("x1", 1)).ok());
  ASSERT_TRUE(b->StrongRead("docs").ok());
  std::shared_ptr<Index> replica = b->Find("docs");
  ASSERT_NE(replica, nullptr);

  etcd_->Stop();
  const auto stopped = std::chrono::steady_clock::now();
  auto failed = a->registry.Add(index, Items("lost", 2));
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable) << failed.status().ToString();
  EXPECT_NE(failed.status().message().find("etcd"), std::string::npos)
      << failed.status().ToString();
  // Fast: a refused connection, not a hang.
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 3s);
  EXPECT_EQ(index->applied_sequence(), 1u);
  EXPECT_FALSE(Has(*index, "lost"));
  EXPECT_TRUE(Has(*replica, "x1"));  // an eventual read
  const Status strong = b->StrongRead("docs");
  EXPECT_EQ(strong.code(), StatusCode::kUnavailable) << strong.ToString();
  EXPECT_NE(strong.message().find("etcd"), std::string::npos) << strong.ToString();

  ASSERT_TRUE(etcd_->Restart());
  const auto restarted = std::chrono::steady_clock::now();
  // Whoever is the writer now (a keeps its lease if etcd kept it; b may win
  // if it did not) takes the write; the same id each try, as a client
  // retries.
  Result<WriteResult> after = Status::Unavailable("no writer");
  std::string writer;
  EXPECT_TRUE(Eventually([&] {
    for (Node* node : {a.get(), b.get()}) {
      if (!node->coordinator->IsWriter()) continue;
      std::shared_ptr<Index> on = node->Find("docs");
      if (on == nullptr) continue;
      after = node->registry.Add(on, Items("after", 3));
      if (after.ok()) {
        writer = node->id;
        return true;
      }
    }
    return false;
  })) << after.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - restarted, 10s);
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->sequence, 2u);

  for (Node* node : {a.get(), b.get()}) {
    SCOPED_TRACE(node->id);
    const Status read = node->StrongRead("docs");
    ASSERT_TRUE(read.ok()) << read.ToString();
    std::shared_ptr<Index> on = node->Find("docs");
    ASSERT_NE(on, nullptr);
    EXPECT_EQ(on->applied_sequence(), after->sequence);
    EXPECT_TRUE(Has(*on, "x1"));
    EXPECT_TRUE(Has(*on, "after"));
    EXPECT_FALSE(Has(*on, "lost"));
  }
}

}  // namespace
}  // namespace vectord::service
