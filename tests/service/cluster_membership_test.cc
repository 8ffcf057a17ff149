// ClusterMembership against a real etcd on loopback ports: nodes that join
// see each other, a node that dies is seen to go within its lease, a node
// id in use and a wrong bucket are refused with the reason, and a node
// whose lease expired while etcd was down joins again by itself.
#include "service/cluster_membership.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "support/etcd_server.h"

namespace vectord::service {
namespace {

using namespace std::chrono_literals;

template <typename Fn>
bool Eventually(Fn done, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

class ClusterMembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = testing::EtcdServer::Start();
    ASSERT_NE(etcd_, nullptr) << "etcd is needed (scripts/install-deps.sh)";
    store::EtcdOptions options;
    options.endpoints = {etcd_->endpoint()};
    options.request_timeout = 1000ms;
    client_ = std::make_unique<store::EtcdClient>(options);
  }

  MembershipOptions Options(const std::string& id, const std::string& bucket = "http://b/x") {
    MembershipOptions options;
    options.node_id = id;
    options.advertise_url = "http://127.0.0.1:" + std::to_string(9000 + id.back());
    options.storaged_url = bucket;
    options.lease_ttl = 1000ms;
    return options;
  }

  // Whether `of` lists node `id` with that health.
  static bool Lists(const ClusterMembership& of, const std::string& id, bool healthy) {
    for (const ClusterNode& node : of.Nodes()) {
      if (node.id == id) return node.healthy == healthy;
    }
    return false;
  }

  std::unique_ptr<testing::EtcdServer> etcd_;
  std::unique_ptr<store::EtcdClient> client_;
};

TEST_F(ClusterMembershipTest, NodesThatJoinSeeEachOtherAndALeavingNodeIsSeenToGo) {
  ClusterMembership n1(client_.get(), Options("n1"));
  ASSERT_TRUE(n1.Join().ok());
  auto n2 = std::make_unique<ClusterMembership>(client_.get(), Options("n2"));
  ASSERT_TRUE(n2->Join().ok());
  EXPECT_TRUE(n1.health().ok());
  EXPECT_TRUE(Eventually([&] { return Lists(n1, "n2", true); }));
  EXPECT_TRUE(Lists(*n2, "n1", true));
  const std::vector<ClusterNode> nodes = n2->Nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].url, "http://127.0.0.1:9049");  // '1' is 49

  n2.reset();  // a clean leave revokes its lease
  EXPECT_TRUE(Eventually([&] { return Lists(n1, "n2", false); }, 3s));
}

// A node that dies (its keep-alives stop) is seen to go when its lease
// expires: here a key put with a lease nobody keeps alive.
TEST_F(ClusterMembershipTest, ADeadNodeIsUnhealthyWithinItsLease) {
  ClusterMembership n1(client_.get(), Options("n1"));
  ASSERT_TRUE(n1.Join().ok());
  auto lease = client_->GrantLease(1s);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(client_->Put("/vectord/nodes/n3", R"({"url":"http://127.0.0.1:9999"})", *lease).ok());
  ASSERT_TRUE(Eventually([&] { return Lists(n1, "n3", true); }));
  const auto died = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return Lists(n1, "n3", false); }));
  // etcd checks expiry on a timer of its own; allow it a little.
  EXPECT_LT(std::chrono::steady_clock::now() - died, 4s);
  EXPECT_TRUE(Lists(n1, "n1", true));
}

TEST_F(ClusterMembershipTest, ANodeIdHeldByALiveNodeIsRefused) {
  ClusterMembership n1(client_.get(), Options("n1"));
  ASSERT_TRUE(n1.Join().ok());
  MembershipOptions clash = Options("n1");
  clash.advertise_url = "http://127.0.0.1:7777";
  ClusterMembership other(client_.get(), clash);
  Status joined = other.Join();
  EXPECT_EQ(joined.code(), StatusCode::kAlreadyExists) << joined.ToString();
  EXPECT_NE(joined.message().find("cluster.node_id must be unique"), std::string::npos);
  // The same id at the same address: this node restarted before its old
  // lease ran out. It waits (Unavailable) rather than being refused.
  ClusterMembership restarted(client_.get(), Options("n1"));
  EXPECT_EQ(restarted.Join().code(), StatusCode::kUnavailable);
}

TEST_F(ClusterMembershipTest, ANodeOnAnotherBucketDoesNotJoin) {
  ClusterMembership n1(client_.get(), Options("n1", "http://127.0.0.1:9000/lakehouse"));
  ASSERT_TRUE(n1.Join().ok());
  ClusterMembership n2(client_.get(), Options("n2", "http://127.0.0.1:9000/other"));
  Status joined = n2.Join();
  EXPECT_EQ(joined.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(joined.message().find("uses the bucket http://127.0.0.1:9000/lakehouse"),
            std::string::npos)
      << joined.ToString();
  EXPECT_FALSE(Lists(n1, "n2", true));
}

TEST_F(ClusterMembershipTest, ALeaseLostWhileEtcdWasDownIsReplacedWhenItReturns) {
  ClusterMembership n1(client_.get(), Options("n1"));
  ASSERT_TRUE(n1.Join().ok());
  etcd_->Stop();
  EXPECT_TRUE(Eventually([&] { return !n1.health().ok(); }, 5s));
  EXPECT_NE(n1.health().message().find("etcd"), std::string::npos) << n1.health().ToString();
  std::this_thread::sleep_for(2500ms);  // past the lease's TTL: it expires when etcd returns
  ASSERT_TRUE(etcd_->Restart());
  EXPECT_TRUE(Eventually([&] { return n1.health().ok(); }));
  EXPECT_TRUE(Eventually([&] { return client_->Get("/vectord/nodes/n1").value().has_value(); }));
  // etcd may keep a lease alive across its own restart; either way the node
  // key is back and attached to a live lease.
  auto key = client_->Get("/vectord/nodes/n1");
  ASSERT_TRUE(key.ok() && key->has_value());
  EXPECT_EQ((*key)->lease, n1.lease());
}

}  // namespace
}  // namespace vectord::service
