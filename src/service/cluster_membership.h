// ClusterMembership: one node's presence in a vectord cluster
// (docs/cluster-protocol.md, "Keys in etcd") and its view of the others.
//
// Joining writes <prefix>nodes/<node_id> = {"url": advertise_url} attached to
// a lease of lease_ttl that a background thread keeps alive at a third of
// its TTL; the key disappears when the node stops (revoked) or dies (the
// lease expires), which is how the others see it go. The node list is read
// once and then followed with an etcd watch, so a node that left is still
// listed, as not healthy.
//
// Join refuses — and says why, for /ready — a node id that another live
// node holds, and a bucket other than the one the cluster at this prefix
// was started with (<prefix>cluster holds it): a node pointed at the wrong
// bucket or prefix must not join silently.
//
// If etcd cannot be reached for longer than the lease, the lease is gone:
// health() says so, and the keep-alive thread joins again (a new lease)
// once etcd answers.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/etcd_client.h"

namespace vectord::service {

// A string field of a JSON object kept in etcd ("url" of a node key,
// "storaged_url" of the cluster key, "node" of the writer key); "" when
// unreadable.
std::string JsonStringField(const std::string& json, const char* field);

struct MembershipOptions {
  std::string node_id;
  std::string advertise_url;
  std::string key_prefix = "/vectord/";
  std::string storaged_url;  // the bucket every node of the cluster shares
  std::chrono::milliseconds lease_ttl{5000};
};

struct ClusterNode {
  std::string id;
  std::string url;
  bool healthy = false;  // its key (and so its lease) is alive
};

class ClusterMembership {
 public:
  ClusterMembership(store::EtcdClient* etcd, MembershipOptions options);
  // Leaves: revokes the lease, so the others see the node go at once.
  ~ClusterMembership();
  ClusterMembership(const ClusterMembership&) = delete;
  ClusterMembership& operator=(const ClusterMembership&) = delete;

  // Registers the node and starts the keep-alive and the watch. Unavailable
  // when etcd cannot be reached (try again); AlreadyExists for a node id in
  // use by a live node; InvalidArgument for a bucket other than the
  // cluster's. Called once.
  Status Join();

  // Every node seen since joining, sorted by id.
  std::vector<ClusterNode> Nodes() const;
  // Ok while this node's lease is alive; otherwise why not.
  Status health() const;
  int64_t lease() const;
  // The cluster's id, recorded in etcd by its first node; "" before Join.
  std::string cluster_id() const;

 private:
  Status Register();  // a new lease and the node key; mutex_ not held
  void KeepAlive();
  void Apply(const std::vector<store::EtcdEvent>& events);
  void StartWatch(int64_t from_revision);
  std::string NodeKey(const std::string& id) const { return options_.key_prefix + "nodes/" + id; }

  store::EtcdClient* const etcd_;
  const MembershipOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, ClusterNode> nodes_;               // guarded by mutex_
  int64_t lease_ = 0;                                      // guarded by mutex_
  std::string cluster_id_;                                 // guarded by mutex_
  Status health_ = Status::Unavailable("not joined yet");  // guarded by mutex_
  bool stopping_ = false;                                  // guarded by mutex_
  bool watch_broken_ = false;                              // guarded by mutex_
  std::unique_ptr<store::EtcdWatch> watch_;                // replaced only by the keep-alive thread
  std::thread keep_alive_;
};

}  // namespace vectord::service
