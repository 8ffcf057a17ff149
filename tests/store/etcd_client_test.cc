// EtcdClient against a real etcd on loopback ports (tests/support/etcd_server):
// keys and prefixes, transactions guarding a commit point, leases that
// expire, watches that deliver every change in order and survive an etcd
// restart, and a clear Unavailable when etcd is down.
#include "store/etcd_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "support/etcd_server.h"

// Compares and operations are written naming only the fields they use.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace vectord::store {
namespace {

using namespace std::chrono_literals;

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = testing::EtcdServer::Start();
    ASSERT_NE(etcd_, nullptr) << "etcd is needed (scripts/install-deps.sh)";
    EtcdOptions options;
    options.endpoints = {etcd_->endpoint()};
    client_ = std::make_unique<EtcdClient>(options);
  }

  std::unique_ptr<testing::EtcdServer> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdClientTest, PutGetPrefixAndDelete) {
  EXPECT_FALSE(client_->Get("/t/a").value().has_value());
  auto first = client_->Put("/t/a", "one");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(client_->Put("/t/b", std::string("bin\0ary", 7)).ok());
  ASSERT_TRUE(client_->Put("/u/c", "other prefix").ok());
  auto a = client_->Get("/t/a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->value, "one");
  EXPECT_EQ((*a)->version, 1);
  EXPECT_EQ((*a)->mod_revision, *first);

  int64_t revision = 0;
  auto listed = client_->GetPrefix("/t/", &revision);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "/t/a");
  EXPECT_EQ((*listed)[1].value, std::string("bin\0ary", 7));
  EXPECT_GT(revision, *first);

  EXPECT_EQ(client_->Delete("/t/", /*prefix=*/true).value(), 2);
  EXPECT_TRUE(client_->GetPrefix("/t/")->empty());
  EXPECT_EQ(client_->Get("/u/c").value()->value, "other prefix");
}

// The shape of a commit point: advance a sequence only if it is still what
// the writer read, and only while the writer's lease holds its claim.
TEST_F(EtcdClientTest, ATransactionCommitsOnlyWhenItsComparesHold) {
  auto lease = client_->GrantLease(5s);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_TRUE(client_->Put("/i/docs/writer", "n1", *lease).ok());
  ASSERT_TRUE(client_->Put("/i/docs/sequence", "10").ok());

  auto commit = [&](const std::string& expected, const std::string& next, int64_t writer_lease) {
    return client_->Txn(
        {{.key = "/i/docs/sequence", .target = EtcdCompare::Target::kValue, .value = expected},
         {.key = "/i/docs/writer", .target = EtcdCompare::Target::kLease, .number = writer_lease}},
        {{.kind = EtcdOperation::Kind::kPut, .key = "/i/docs/sequence", .value = next}},
        {{.kind = EtcdOperation::Kind::kGet, .key = "/i/docs/sequence"}});
  };
  auto ok = commit("10", "11", *lease);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->succeeded);
  EXPECT_TRUE(ok->reads.empty());

  auto stale = commit("10", "12", *lease);  // lost a race: the sequence moved
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->succeeded);
  ASSERT_EQ(stale->reads.size(), 1u);
  ASSERT_EQ(stale->reads[0].size(), 1u);
  EXPECT_EQ(stale->reads[0][0].value, "11");

  auto fenced = commit("11", "12", *lease + 1);  // another writer's lease
  ASSERT_TRUE(fenced.ok());
  EXPECT_FALSE(fenced->succeeded);
  EXPECT_EQ(client_->Get("/i/docs/sequence").value()->value, "11");
}

TEST_F(EtcdClientTest, ALeaseKeepsItsKeysOnlyWhileKeptAlive) {
  auto lease = client_->GrantLease(1s);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(client_->Put("/l/claim", "n1", *lease).ok());
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(500ms);
    auto ttl = client_->KeepAlive(*lease);
    ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
    EXPECT_GE(*ttl, 1);
  }
  EXPECT_TRUE(client_->Get("/l/claim").value().has_value()) << "kept alive for 2 s of a 1 s TTL";
  // Left alone, it expires (etcd rounds a TTL up to its minimum; allow it).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(100ms);
    gone = !client_->Get("/l/claim").value().has_value();
  }
  EXPECT_TRUE(gone);
  EXPECT_EQ(client_->KeepAlive(*lease).status().code(), StatusCode::kNotFound);

  auto revoked = client_->GrantLease(30s);
  ASSERT_TRUE(revoked.ok());
  ASSERT_TRUE(client_->Put("/l/other", "x", *revoked).ok());
  ASSERT_TRUE(client_->RevokeLease(*revoked).ok());
  EXPECT_FALSE(client_->Get("/l/other").value().has_value());
}

// Collects watch events for a test to wait on.
struct Collected {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<EtcdEvent> events;
  Status broken;
  bool is_broken = false;

  bool WaitFor(size_t count, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return events.size() >= count; });
  }
};

std::unique_ptr<EtcdWatch> WatchInto(EtcdClient& client, const std::string& prefix, int64_t from,
                                     Collected& out) {
  return client.Watch(
      prefix, from,
      [&out](const std::vector<EtcdEvent>& events) {
        std::lock_guard lock(out.mutex);
        out.events.insert(out.events.end(), events.begin(), events.end());
        out.changed.notify_all();
      },
      [&out](const Status& status) {
        std::lock_guard lock(out.mutex);
        out.broken = status;
        out.is_broken = true;
        out.changed.notify_all();
      });
}

TEST_F(EtcdClientTest, AWatchDeliversEveryChangeInOrderFromARevision) {
  auto before = client_->Put("/w/a", "0");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(client_->Put("/w/a", "1").ok());
  Collected seen;
  // From a past revision: the history since, then what follows.
  auto watch = WatchInto(*client_, "/w/", *before + 1, seen);
  ASSERT_TRUE(client_->Put("/w/b", "2").ok());
  ASSERT_TRUE(client_->Delete("/w/a").ok());
  ASSERT_TRUE(client_->Put("/x/not-watched", "3").ok());
  ASSERT_TRUE(seen.WaitFor(3));
  std::lock_guard lock(seen.mutex);
  ASSERT_EQ(seen.events.size(), 3u);
  EXPECT_EQ(seen.events[0].kv.value, "1");
  EXPECT_EQ(seen.events[1].kv.key, "/w/b");
  EXPECT_EQ(seen.events[2].type, EtcdEvent::Type::kDelete);
  EXPECT_EQ(seen.events[2].kv.key, "/w/a");
  EXPECT_LT(seen.events[0].kv.mod_revision, seen.events[1].kv.mod_revision);
  EXPECT_EQ(watch->revision(), seen.events[2].kv.mod_revision);
}

TEST_F(EtcdClientTest, AWatchResumesAfterEtcdRestartsWithoutLosingAChange) {
  Collected seen;
  auto watch = WatchInto(*client_, "/r/", 0, seen);
  std::this_thread::sleep_for(200ms);  // the watch is established
  ASSERT_TRUE(client_->Put("/r/1", "a").ok());
  ASSERT_TRUE(seen.WaitFor(1));
  ASSERT_TRUE(etcd_->Restart());
  ASSERT_TRUE(client_->Put("/r/2", "b").ok());
  ASSERT_TRUE(seen.WaitFor(2)) << "the change made while the watch reconnected was lost";
  std::lock_guard lock(seen.mutex);
  EXPECT_EQ(seen.events.size(), 2u);
  EXPECT_EQ(seen.events[1].kv.key, "/r/2");
  EXPECT_FALSE(seen.is_broken);
}

TEST_F(EtcdClientTest, EtcdDownIsUnavailableNamingEtcdQuickly) {
  etcd_->Stop();
  const auto started = std::chrono::steady_clock::now();
  auto put = client_->Put("/d/x", "1");
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(put.status().message().find("etcd"), std::string::npos) << put.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
}

}  // namespace
}  // namespace vectord::store
