// ClusterCoordinator: a node's part in a vectord cluster
// (docs/cluster-protocol.md) — several nodes on one bucket, coordinated by
// etcd.
//
// One node at a time is the cluster's writer: it holds <prefix>writer on its
// membership lease, and the key's mod_revision is its term. Every write of
// every index is carried out there: the records of one group commit go to
// the bucket as one segment object named with the term
// (_cluster/<name>/<incarnation>/<first>-<last>.<term>.log), then a
// transaction guarded by the term advances <prefix>committed/<name>; only
// then is the group applied and acknowledged. A writer whose term has ended
// (its lease expired while it was paused, say) fails that transaction, so
// nothing it writes afterwards is acknowledged or applied anywhere.
//
// Every node keeps a replica of every index in memory: it follows
// <prefix>indexes/ and <prefix>committed/ with an etcd watch and applies the
// committed records from the bucket's segment objects, in order. A node that
// starts (or joins on an empty disk) builds each replica from the bucket the
// same way. Reads are served from the replica: `WaitForRead` holds a read
// until it has applied what the caller asked for (a sequence, or whatever
// etcd says is committed).
//
// It is the registry's Persistence in cluster mode: a create or drop on the
// writer commits in etcd (create: the index key appears; drop: it goes),
// and every index gets a CommitLog that takes its writes while this node is
// the writer and refuses them (Unavailable) otherwise — the HTTP layer
// forwards writes to the writer before they get that far.
//
// Thread safety: every method may be called from any thread. One mutex
// guards the replica table and the writer state; it is held across the
// etcd transaction of a create or drop (so the watch cannot register the
// same index twice) but never across bucket reads. A follower thread applies
// replicas' records; a coordinator thread campaigns for the writer key,
// re-establishes a term after a failed commit, restarts a broken watch and
// publishes this node's applied sequences.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "service/cluster_membership.h"
#include "service/index_registry.h"
#include "store/etcd_client.h"
#include "store/log_reader.h"
#include "store/object_store.h"

namespace vectord::service {

struct CoordinatorOptions {
  std::string node_id;
  std::string advertise_url;
  std::string key_prefix = "/vectord/";
  // How often the coordinator thread checks the writer key (a watch event
  // wakes it at once) and publishes applied sequences.
  std::chrono::milliseconds check_interval{250};
  // The largest group commit, in bytes of records.
  size_t max_group_bytes = size_t{32} << 20;
  // The writer uploads a snapshot of an index once this many bytes of
  // records, or this many commits (objects), were committed after the last
  // one; then the objects it covers are deleted. It bounds what a starting
  // node replays and what the bucket keeps.
  uint64_t snapshot_bytes = uint64_t{64} << 20;
  uint64_t snapshot_commits = 1000;
};

struct WriterInfo {
  std::string node;
  std::string url;
  int64_t term = 0;
};

// GET /cluster.
struct ClusterStatus {
  std::optional<WriterInfo> writer;
  std::vector<ClusterNode> nodes;
  struct Replica {
    std::string node;
    uint64_t applied_sequence = 0;
  };
  struct IndexState {
    std::string name;
    uint64_t sequence = 0;  // committed
    std::vector<Replica> replicas;
  };
  std::vector<IndexState> indexes;
};

class ClusterCoordinator final : public Persistence {
 public:
  ClusterCoordinator(store::EtcdClient* etcd, ClusterMembership* membership,
                     store::ObjectStore* bucket, Registry* registry, CoordinatorOptions options);
  ~ClusterCoordinator() override;  // Stop()s

  // Reads every index from etcd, builds each replica from the bucket up to
  // the sequence committed when it was read, then follows etcd and
  // campaigns. Retries while etcd or the bucket cannot be reached, for as
  // long as `keep_trying` says.
  // A bucket that another cluster claimed (its _cluster/cluster.json names
  // another cluster id: a node pointed at the wrong key prefix or etcd) is
  // refused, and starting() says so until keep_trying gives up.
  Status Start(const std::function<bool()>& keep_trying);
  void Stop();
  // While Start runs: what it waits for (for /ready).
  Status starting() const;

  // Persistence: the cluster-wide commit points, on the writer only.
  Status OnCreate(Index& index) override;
  Status OnDrop(Index& index) override;
  Result<std::string> OnQuarantine(const std::string& name) override;
  Result<Recovered> OnRecover(const std::string& name, ThreadPool* workers) override;
  void OnWrite(const std::shared_ptr<Index>&) override {}

  // Whether this node is the writer (elected in the current term).
  bool IsWriter() const;
  // The writer as this node last saw it; nullopt while none is elected.
  std::optional<WriterInfo> Writer() const;
  const std::string& node_id() const { return options_.node_id; }
  // Ok while this node's etcd lease is alive; otherwise the error that ended
  // it ("etcd unreachable: ..."). A write refused for want of a writer says
  // this instead when it is the cause.
  Status EtcdHealth() const;

  // Holds a read of `name` until this node's replica has applied
  // `min_sequence` and, when `strong`, everything etcd says is committed
  // (the replica must also be of the incarnation etcd names). TimedOut
  // after `deadline`; NotFound when `strong` and etcd has no such index;
  // Unavailable naming etcd when it cannot be read.
  Status WaitForRead(std::string_view name, bool strong, uint64_t min_sequence,
                     std::chrono::steady_clock::time_point deadline);

  Result<ClusterStatus> Describe();

  // For /metrics, without asking etcd: each replica's applied sequence and
  // the highest committed sequence this node has heard of.
  struct ReplicaProgress {
    std::string name;
    uint64_t applied = 0;
    uint64_t committed = 0;
  };
  std::vector<ReplicaProgress> Progress() const;
  int64_t term() const;  // this node's term while it is the writer, else 0

 private:
  class Committer;
  struct Replica {
    std::string name;
    int64_t incarnation = 0;  // the create_revision of its index key
    uint32_t dimension = 0;
    std::shared_ptr<Index> index;
    std::shared_ptr<Committer> committer;
    uint64_t target = 0;      // the highest committed sequence seen
    int64_t target_term = 0;  // the term that committed it
    std::map<uint64_t, std::pair<int64_t, std::string>> hints;  // first -> (term, object key)
    bool queued = false;
    // The latest snapshot etcd names (snapshots/<name>): its tag and key.
    uint64_t snapshot_tag = 0;
    std::string snapshot_key;
  };

  std::string Key(std::string_view suffix) const {
    return options_.key_prefix + std::string(suffix);
  }
  std::string IndexKey(std::string_view name) const;
  std::string CommittedKey(std::string_view name) const;
  std::string SnapshotKey(std::string_view name) const;
  std::string WriterKey() const { return Key("writer"); }

  // The bucket's _cluster/cluster.json names this cluster, or is written
  // to; InvalidArgument when it names another.
  Status ClaimBucket();
  // Reads every index and committed sequence and makes the replica table
  // agree; returns the revision read at.
  Result<int64_t> Resync();
  void StartWatch(int64_t from_revision);
  void OnEvents(const std::vector<store::EtcdEvent>& events);
  // With mutex_ held: a replica for the index key's value, unless one of
  // this incarnation (or a newer one) is there.
  void EnsureReplicaLocked(const std::string& name, const std::string& params_json,
                           int64_t incarnation);
  void ForgetReplicaLocked(const std::string& name);
  void NoteCommittedLocked(Replica& replica, const std::string& value);
  void NoteSnapshotLocked(Replica& replica, const std::string& value);
  // A replica behind the latest snapshot: the snapshot is loaded into a new
  // Index that replaces the replica's (in the registry too).
  Status LoadSnapshot(const std::shared_ptr<Replica>& replica);
  // The writer: snapshots the indexes that are due (snapshot_bytes,
  // snapshot_commits), commits each snapshot's key in etcd under the term,
  // then deletes the objects it covers.
  void SnapshotDueIndexes();
  Status Snapshot(const std::shared_ptr<Replica>& replica, int64_t term);
  void EnqueueLocked(Replica& replica);

  void FollowLoop();
  // Applies the committed records the replica lacks, from the bucket.
  Status CatchUp(const std::shared_ptr<Replica>& replica);
  // Applies to `index` the committed records (applied, target] from the
  // bucket: the hinted object alone, or the incarnation's chain by the rule
  // of docs/cluster-protocol.md ("Fencing").
  Status ApplyObjects(const Replica& replica, Index& index, uint64_t applied, uint64_t target,
                      int64_t target_term, const std::optional<std::string>& hinted_key);

  void CoordinateLoop();
  void Campaign();
  void BecomeWriterLocked(int64_t term);
  void StepDownLocked(const Status& reason);
  void ActivateCommitters();
  void PublishApplied();

  // The writer's half of a group commit: the segment object, then the
  // transaction. NotFound when the index was dropped; Unavailable otherwise.
  Status CommitGroup(
      const std::string& name, int64_t incarnation, uint32_t dimension, int64_t term,
      uint64_t first,
      const std::vector<std::pair<store::log_format::RecordType, std::string*>>& records);
  // A commit failed in `term`: a new term is needed before the next write.
  void CommitFailed(int64_t term);

  store::EtcdClient* const etcd_;
  ClusterMembership* const membership_;
  store::ObjectStore* const bucket_;
  Registry* const registry_;
  const CoordinatorOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;                                           // the coordinator thread
  std::condition_variable follow_;                                         // the follower thread
  std::map<std::string, std::shared_ptr<Replica>, std::less<>> replicas_;  // guarded by mutex_
  std::deque<std::string> follow_queue_;                                   // guarded by mutex_
  // The incarnation of each index this node dropped as the writer: a late
  // watch event of it must not bring it back.
  std::map<std::string, int64_t, std::less<>> dropped_;  // guarded by mutex_
  bool writer_ = false;                                  // guarded by mutex_
  int64_t term_ = 0;                       // guarded by mutex_; this node's term while writer_
  bool reterm_needed_ = false;             // guarded by mutex_
  std::optional<WriterInfo> writer_info_;  // guarded by mutex_
  bool watch_broken_ = false;              // guarded by mutex_
  bool stopping_ = false;                  // guarded by mutex_
  Status starting_ = Status::Unavailable("joining the cluster");  // guarded by mutex_
  std::string last_published_;                                    // the coordinator thread's
  std::unique_ptr<store::EtcdWatch> watch_;  // replaced by Start and the coordinator thread
  std::thread follower_;
  std::thread coordinator_;
};

}  // namespace vectord::service
