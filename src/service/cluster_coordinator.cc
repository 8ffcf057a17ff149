#include "service/cluster_coordinator.h"

#include <simdjson.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <future>
#include <set>

#include "common/json_writer.h"
#include "common/log.h"
#include "service/params_file.h"
#include "store/log_format.h"

namespace vectord::service {

using store::EtcdCompare;
using store::EtcdOperation;
using store::log_format::RecordType;

namespace {

// 20 digits, so that keys sort as numbers.
std::string Padded(uint64_t n) {
  char text[24];
  std::snprintf(text, sizeof text, "%020" PRIu64, n);
  return text;
}

// The bucket's folder for one incarnation of an index: a re-created name
// never reads an object of the one before.
std::string ObjectFolder(std::string_view name, int64_t incarnation) {
  return "_cluster/" + std::string(name) + "/" + Padded(static_cast<uint64_t>(incarnation)) + "/";
}

struct SegmentObject {
  uint64_t first = 0;
  uint64_t last = 0;
  int64_t term = 0;
  std::string key;
};

std::string ObjectKey(std::string_view name, int64_t incarnation, uint64_t first, uint64_t last,
                      int64_t term) {
  return ObjectFolder(name, incarnation) + Padded(first) + "-" + Padded(last) + "." +
         Padded(static_cast<uint64_t>(term)) + ".log";
}

// "<first>-<last>.<term>.log" after the folder; false for anything else.
bool ParseObjectKey(const std::string& key, SegmentObject* object) {
  const size_t slash = key.rfind('/');
  const std::string leaf = slash == std::string::npos ? key : key.substr(slash + 1);
  unsigned long long first = 0, last = 0, term = 0;
  int consumed = 0;
  if (leaf.size() != 20 + 1 + 20 + 1 + 20 + 4 ||
      std::sscanf(leaf.c_str(), "%20llu-%20llu.%20llu.log%n", &first, &last, &term, &consumed) !=
          3 ||
      static_cast<size_t>(consumed) != leaf.size() || first == 0 || last < first) {
    return false;
  }
  *object = {first, last, static_cast<int64_t>(term), key};
  return true;
}

// The writer's snapshots: "snapshot-<tag>.<term>.hnsw" in the incarnation's
// folder (never parsed as a segment object).
std::string SnapshotObjectKey(std::string_view name, int64_t incarnation, uint64_t tag,
                              int64_t term) {
  return ObjectFolder(name, incarnation) + "snapshot-" + Padded(tag) + "." +
         Padded(static_cast<uint64_t>(term)) + ".hnsw";
}

bool ParseSnapshotKey(const std::string& key, uint64_t* tag) {
  const size_t slash = key.rfind('/');
  const std::string leaf = slash == std::string::npos ? key : key.substr(slash + 1);
  unsigned long long parsed = 0, term = 0;
  int consumed = 0;
  if (std::sscanf(leaf.c_str(), "snapshot-%20llu.%20llu.hnsw%n", &parsed, &term, &consumed) != 2 ||
      static_cast<size_t>(consumed) != leaf.size()) {
    return false;
  }
  *tag = parsed;
  return true;
}

struct SnapshotValue {
  uint64_t tag = 0;
  int64_t incarnation = 0;
  std::string key;
};

bool ParseSnapshotValue(const std::string& json, SnapshotValue* value) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return false;
  std::string_view key;
  if (root["tag"].get_uint64().get(value->tag) != simdjson::SUCCESS ||
      root["incarnation"].get_int64().get(value->incarnation) != simdjson::SUCCESS ||
      root["key"].get_string().get(key) != simdjson::SUCCESS) {
    return false;
  }
  value->key = std::string(key);
  return true;
}

struct CommittedValue {
  uint64_t sequence = 0;
  int64_t term = 0;
  int64_t incarnation = 0;  // 0 in the value the create writes
  std::string object;
};

bool ParseCommitted(const std::string& json, CommittedValue* value) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return false;
  uint64_t sequence = 0;
  int64_t term = 0, incarnation = 0;
  std::string_view object;
  if (root["sequence"].get_uint64().get(sequence) != simdjson::SUCCESS) return false;
  // Absent fields keep their zero values.
  if (root["term"].get_int64().get(term) != simdjson::SUCCESS) term = 0;
  if (root["incarnation"].get_int64().get(incarnation) != simdjson::SUCCESS) incarnation = 0;
  if (root["object"].get_string().get(object) != simdjson::SUCCESS) object = {};
  *value = {sequence, term, incarnation, std::string(object)};
  return true;
}

std::string CommittedJson(uint64_t sequence, int64_t term, int64_t incarnation,
                          const std::string& object) {
  JsonWriter w;
  w.BeginObject();
  w.Key("sequence").Int(static_cast<int64_t>(sequence));
  w.Key("term").Int(term);
  w.Key("incarnation").Int(incarnation);
  w.Key("object").String(object);
  w.EndObject();
  return std::move(w).Finish();
}

EtcdCompare TermHolds(const std::string& writer_key, int64_t term) {
  return {.key = writer_key,
          .target = EtcdCompare::Target::kModRevision,
          .result = EtcdCompare::Result::kEqual,
          .value = "",
          .number = term};
}

EtcdCompare IncarnationHolds(const std::string& index_key, int64_t incarnation) {
  return {.key = index_key,
          .target = EtcdCompare::Target::kCreateRevision,
          .result = EtcdCompare::Result::kEqual,
          .value = "",
          .number = incarnation};
}

EtcdOperation GetOp(std::string key, bool prefix = false) {
  return {.kind = EtcdOperation::Kind::kGet,
          .key = std::move(key),
          .value = "",
          .lease = 0,
          .prefix = prefix};
}

EtcdOperation PutOp(std::string key, std::string value, int64_t lease = 0) {
  return {.kind = EtcdOperation::Kind::kPut,
          .key = std::move(key),
          .value = std::move(value),
          .lease = lease,
          .prefix = false};
}

EtcdOperation DeleteOp(std::string key) {
  return {.kind = EtcdOperation::Kind::kDelete,
          .key = std::move(key),
          .value = "",
          .lease = 0,
          .prefix = false};
}

}  // namespace

// The writer's side of one index: group commits, one at a time, in the
// current term. The first writer in the queue leads a group of everyone
// queued behind it (LevelDB's writer queue), so concurrent writes share one
// PUT and one transaction; once its transaction succeeds the next group
// starts committing while this one is applied (in sequence order).
class ClusterCoordinator::Committer final : public CommitLog {
 public:
  Committer(ClusterCoordinator* owner, std::string name, int64_t incarnation, uint32_t dimension)
      : owner_(owner), name_(std::move(name)), incarnation_(incarnation), dimension_(dimension) {}

  Result<uint64_t> Commit(RecordType type, std::string payload,
                          const std::function<Status(uint64_t)>& apply) override {
    Pending me{type, std::move(payload), &apply, false, Status::Ok(), 0};
    std::unique_lock lock(mutex_);
    if (term_ == 0) return inactive_reason_;
    queue_.push_back(&me);
    // The leader of a group takes it off the queue before it is applied:
    // the queue may be empty while this writer waits to be marked done.
    turn_.wait(lock, [&] { return me.done || (!queue_.empty() && queue_.front() == &me); });
    if (me.done) return me.status.ok() ? Result<uint64_t>(me.sequence) : me.status;

    std::vector<Pending*> group;
    size_t bytes = 0;
    for (Pending* p : queue_) {
      if (!group.empty() && bytes + p->payload.size() > owner_->options_.max_group_bytes) break;
      group.push_back(p);
      bytes += p->payload.size();
    }
    const int64_t term = term_;
    const uint64_t first = next_;
    Status committed = term == 0 ? inactive_reason_ : Status::Ok();
    if (committed.ok()) {
      lock.unlock();
      std::vector<std::pair<RecordType, std::string*>> records;
      for (Pending* p : group) records.emplace_back(p->type, &p->payload);
      committed = owner_->CommitGroup(name_, incarnation_, dimension_, term, first, records);
      lock.lock();
    }
    for (size_t i = 0; i < group.size(); ++i) queue_.pop_front();
    if (committed.ok()) {
      if (term_ == term) next_ = first + group.size();
      // The next group commits while this one is applied: applying is
      // the slow part, and records are applied in order anyway.
      turn_.notify_all();
      // After a new term the follower may have applied this group already
      // (from the bucket) and a later one may be applied: the index skips
      // records it holds, and applied_through_ never goes back.
      turn_.wait(lock, [&] { return applied_through_ + 1 >= first; });
      lock.unlock();
      for (size_t i = 0; i < group.size(); ++i) {
        group[i]->sequence = first + i;
        group[i]->status = (*group[i]->apply)(first + i);
      }
      lock.lock();
      applied_through_ = std::max<uint64_t>(applied_through_, first + group.size() - 1);
      bytes_since_snapshot.fetch_add(bytes, std::memory_order_relaxed);
      commits_since_snapshot.fetch_add(1, std::memory_order_relaxed);
    } else if (term_ == term) {
      // The object may be in the bucket and the transaction may have
      // happened: nothing more is written in this term.
      term_ = 0;
      failed_term_ = term;
      inactive_reason_ = committed;
    }
    for (Pending* p : group) {
      if (!committed.ok()) p->status = committed;
      p->done = true;
    }
    lock.unlock();
    turn_.notify_all();
    if (!committed.ok() && committed.code() != StatusCode::kNotFound) owner_->CommitFailed(term);
    return me.status.ok() ? Result<uint64_t>(me.sequence) : me.status;
  }

  // Starts committing in `term` after `committed` (never in a term where a
  // commit of this index failed).
  void Activate(int64_t term, uint64_t committed) {
    std::lock_guard lock(mutex_);
    if (term <= failed_term_) return;
    term_ = term;
    next_ = committed + 1;
    // Every group of an earlier activation was applied: the coordinator
    // activates only a replica that holds everything committed.
    applied_through_ = std::max(applied_through_, committed);
  }
  void Deactivate(Status reason) {
    std::lock_guard lock(mutex_);
    term_ = 0;
    inactive_reason_ = std::move(reason);
  }
  bool active() const {
    std::lock_guard lock(mutex_);
    return term_ != 0;
  }
  int64_t failed_term() const {
    std::lock_guard lock(mutex_);
    return failed_term_;
  }

  // What was committed since the last snapshot (the snapshot policy).
  std::atomic<uint64_t> bytes_since_snapshot{0};
  std::atomic<uint64_t> commits_since_snapshot{0};

 private:
  struct Pending {
    RecordType type;
    std::string payload;
    const std::function<Status(uint64_t)>* apply;
    bool done = false;
    Status status;
    uint64_t sequence = 0;
  };

  ClusterCoordinator* const owner_;
  const std::string name_;
  const int64_t incarnation_;
  const uint32_t dimension_;

  mutable std::mutex mutex_;
  std::condition_variable turn_;
  std::deque<Pending*> queue_;  // guarded by mutex_
  int64_t term_ = 0;            // guarded by mutex_; 0: not committing
  uint64_t next_ = 1;           // guarded by mutex_
  // The last record of the last group applied: groups commit one after the
  // other and are applied in that order, each by its leader.
  uint64_t applied_through_ = 0;  // guarded by mutex_
  int64_t failed_term_ = 0;       // guarded by mutex_
  Status inactive_reason_ =
      Status::Unavailable("this node is not the writer");  // guarded by mutex_
};

ClusterCoordinator::ClusterCoordinator(store::EtcdClient* etcd, ClusterMembership* membership,
                                       store::ObjectStore* bucket, Registry* registry,
                                       CoordinatorOptions options)
    : etcd_(etcd),
      membership_(membership),
      bucket_(bucket),
      registry_(registry),
      options_(std::move(options)) {}

ClusterCoordinator::~ClusterCoordinator() { Stop(); }

std::string ClusterCoordinator::IndexKey(std::string_view name) const {
  return Key("indexes/") + std::string(name);
}

std::string ClusterCoordinator::CommittedKey(std::string_view name) const {
  return Key("committed/") + std::string(name);
}

std::string ClusterCoordinator::SnapshotKey(std::string_view name) const {
  return Key("snapshots/") + std::string(name);
}

Status ClusterCoordinator::ClaimBucket() {
  const std::string id = membership_->cluster_id();
  const std::string marker = "_cluster/cluster.json";
  Result<std::string> recorded = bucket_->Get(marker);
  if (recorded.ok()) {
    const std::string theirs = JsonStringField(*recorded, "cluster_id");
    if (theirs == id) return Status::Ok();
    return Status::InvalidArgument(
        "the bucket " + bucket_->Describe() + " belongs to another cluster (id " + theirs +
        ", etcd key prefix " + JsonStringField(*recorded, "key_prefix") +
        "); this node's cluster at key prefix " + options_.key_prefix + " is " + id +
        ": cluster.key_prefix, cluster.etcd_endpoints or vectord.storaged_url is wrong");
  }
  if (recorded.status().code() != StatusCode::kNotFound) {
    return Status::Unavailable("object store " + bucket_->Describe() + ": " +
                               recorded.status().message());
  }
  JsonWriter w;
  w.BeginObject().Key("cluster_id").String(id).Key("key_prefix").String(options_.key_prefix);
  w.EndObject();
  return bucket_->Put(marker, std::move(w).Finish());
}

Status ClusterCoordinator::starting() const {
  std::lock_guard lock(mutex_);
  return starting_;
}

Status ClusterCoordinator::Start(const std::function<bool()>& keep_trying) {
  // Until it is ready, /ready says what it waits for.
  auto waiting = [&](const Status& why) {
    LogWarn("cluster_not_ready", {{"error", why.message()}});
    std::lock_guard lock(mutex_);
    starting_ = why;
  };
  Status claimed = ClaimBucket();
  while (!claimed.ok()) {
    waiting(claimed);
    if (!keep_trying()) return claimed;
    std::this_thread::sleep_for(std::chrono::seconds(1));
    claimed = ClaimBucket();
  }
  follower_ = std::thread([this] { FollowLoop(); });
  Result<int64_t> revision = Resync();
  while (!revision.ok()) {
    waiting(revision.status());
    if (!keep_trying()) return revision.status();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    revision = Resync();
  }
  {
    std::lock_guard lock(mutex_);
    starting_ = Status::Unavailable("building replicas from the object store");
  }
  StartWatch(*revision + 1);
  coordinator_ = std::thread([this] { CoordinateLoop(); });
  // Ready once every replica holds what was committed when it was read (not
  // what is committed now: under steady writes a replica is always a few
  // commits behind the latest).
  std::map<std::string, uint64_t, std::less<>> read_targets;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, replica] : replicas_) read_targets[name] = replica->target;
  }
  while (true) {
    size_t behind = 0;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [name, target] : read_targets) {
        auto it = replicas_.find(name);
        if (it != replicas_.end() && it->second->index->applied_sequence() < target) ++behind;
      }
    }
    if (behind == 0) break;
    if (!keep_trying()) return Status::Unavailable("stopped while building replicas");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  LogInfo("cluster_replicas_ready", {{"node", options_.node_id}});
  return Status::Ok();
}

void ClusterCoordinator::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    StepDownLocked(Status::Unavailable("node " + options_.node_id + " is shutting down"));
  }
  wake_.notify_all();
  follow_.notify_all();
  if (coordinator_.joinable()) coordinator_.join();
  if (follower_.joinable()) follower_.join();
  watch_.reset();
}

Result<int64_t> ClusterCoordinator::Resync() {
  // Both prefixes at one revision: a committed value is never seen without
  // its index.
  VECTORD_ASSIGN_OR_RETURN(
      const store::EtcdTxnResult read,
      etcd_->Txn({}, {GetOp(Key("indexes/"), true), GetOp(Key("committed/"), true),
                      GetOp(Key("snapshots/"), true)}));
  std::lock_guard lock(mutex_);
  std::set<std::string> present;
  for (const store::EtcdKeyValue& kv : read.reads[0]) {
    const std::string name = kv.key.substr(Key("indexes/").size());
    present.insert(name);
    EnsureReplicaLocked(name, kv.value, kv.create_revision);
  }
  std::vector<std::string> gone;
  for (const auto& [name, replica] : replicas_) {
    // One created after the read (a create on this writer meanwhile) stays.
    if (!present.contains(name) && replica->incarnation <= read.revision) gone.push_back(name);
  }
  for (const std::string& name : gone) ForgetReplicaLocked(name);
  for (const store::EtcdKeyValue& kv : read.reads[1]) {
    auto it = replicas_.find(kv.key.substr(Key("committed/").size()));
    if (it != replicas_.end()) NoteCommittedLocked(*it->second, kv.value);
  }
  for (const store::EtcdKeyValue& kv : read.reads[2]) {
    auto it = replicas_.find(kv.key.substr(Key("snapshots/").size()));
    if (it != replicas_.end()) NoteSnapshotLocked(*it->second, kv.value);
  }
  return read.revision;
}

void ClusterCoordinator::StartWatch(int64_t from_revision) {
  watch_ = etcd_->Watch(
      options_.key_prefix, from_revision,
      [this](const std::vector<store::EtcdEvent>& events) { OnEvents(events); },
      [this](const Status& why) {
        LogWarn("cluster_watch_broken", {{"error", why.message()}});
        std::lock_guard lock(mutex_);
        watch_broken_ = true;
        wake_.notify_all();
      });
}

void ClusterCoordinator::OnEvents(const std::vector<store::EtcdEvent>& events) {
  const std::string indexes = Key("indexes/"), committed = Key("committed/"),
                    snapshots = Key("snapshots/");
  std::lock_guard lock(mutex_);
  for (const store::EtcdEvent& event : events) {
    const std::string& key = event.kv.key;
    const bool put = event.type == store::EtcdEvent::Type::kPut;
    if (key.starts_with(indexes)) {
      const std::string name = key.substr(indexes.size());
      if (put) {
        EnsureReplicaLocked(name, event.kv.value, event.kv.create_revision);
      } else if (auto it = replicas_.find(name);
                 it != replicas_.end() && it->second->incarnation < event.kv.mod_revision) {
        ForgetReplicaLocked(name);
      }
    } else if (key.starts_with(committed) && put) {
      auto it = replicas_.find(std::string_view(key).substr(committed.size()));
      if (it != replicas_.end()) NoteCommittedLocked(*it->second, event.kv.value);
    } else if (key.starts_with(snapshots) && put) {
      auto it = replicas_.find(std::string_view(key).substr(snapshots.size()));
      if (it != replicas_.end()) NoteSnapshotLocked(*it->second, event.kv.value);
    } else if (key == WriterKey()) {
      wake_.notify_all();
    }
  }
}

void ClusterCoordinator::EnsureReplicaLocked(const std::string& name,
                                             const std::string& params_json, int64_t incarnation) {
  if (auto it = replicas_.find(name); it != replicas_.end()) {
    if (it->second->incarnation >= incarnation) return;
    ForgetReplicaLocked(name);
  }
  // A late event of an incarnation this writer dropped itself.
  if (auto dropped = dropped_.find(name);
      dropped != dropped_.end() && dropped->second >= incarnation) {
    return;
  }
  Result<IndexParams> params = ParseParamsJson(params_json);
  if (params.ok() && params->name != name) {
    params = Status::Corruption("the parameters name index " + params->name);
  }
  Result<std::unique_ptr<engine::HnswIndex>> engine =
      params.ok() ? engine::HnswIndex::Create(EngineOptions(*params, registry_->vector_directory()))
                  : Result<std::unique_ptr<engine::HnswIndex>>(params.status());
  if (!engine.ok()) {
    LogError("cluster_index_unusable", {{"index", name}, {"error", engine.status().message()}});
    return;
  }
  auto replica = std::make_shared<Replica>();
  replica->name = name;
  replica->incarnation = incarnation;
  replica->dimension = params->dimension;
  replica->index = std::make_shared<Index>(std::move(*params), std::move(*engine));
  replica->committer =
      std::make_shared<Committer>(this, name, incarnation, replica->index->params().dimension);
  replica->index->AttachCommitLog(replica->committer);
  if (!registry_->Register(replica->index).ok()) {
    // A replica of an incarnation this node never saw dropped.
    (void)registry_->Forget(name);
    (void)registry_->Register(replica->index);
  }
  replicas_[name] = std::move(replica);
}

void ClusterCoordinator::ForgetReplicaLocked(const std::string& name) {
  auto it = replicas_.find(name);
  if (it == replicas_.end()) return;
  it->second->committer->Deactivate(Status::NotFound("not found"));
  // Only if the registry still holds this incarnation's index.
  if (registry_->Find(name) == it->second->index) (void)registry_->Forget(name);
  it->second->index->MarkDropped();
  replicas_.erase(it);
}

void ClusterCoordinator::NoteCommittedLocked(Replica& replica, const std::string& value) {
  CommittedValue committed;
  if (!ParseCommitted(value, &committed)) return;
  if (committed.incarnation != 0 && committed.incarnation != replica.incarnation) return;
  if (committed.sequence > replica.target) {
    replica.target = committed.sequence;
    replica.target_term = committed.term;
  }
  SegmentObject object;
  if (ParseObjectKey(committed.object, &object)) {
    replica.hints[object.first] = {object.term, committed.object};
  }
  EnqueueLocked(replica);
}

void ClusterCoordinator::NoteSnapshotLocked(Replica& replica, const std::string& value) {
  SnapshotValue snapshot;
  if (!ParseSnapshotValue(value, &snapshot) || snapshot.incarnation != replica.incarnation) return;
  if (snapshot.tag > replica.snapshot_tag) {
    replica.snapshot_tag = snapshot.tag;
    replica.snapshot_key = std::move(snapshot.key);
  }
}

void ClusterCoordinator::EnqueueLocked(Replica& replica) {
  if (replica.queued || replica.index->applied_sequence() >= replica.target) return;
  replica.queued = true;
  follow_queue_.push_back(replica.name);
  follow_.notify_all();
}

void ClusterCoordinator::FollowLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    follow_.wait(lock, [&] { return stopping_ || !follow_queue_.empty(); });
    if (stopping_) return;
    const std::string name = std::move(follow_queue_.front());
    follow_queue_.pop_front();
    auto it = replicas_.find(name);
    if (it == replicas_.end()) continue;
    std::shared_ptr<Replica> replica = it->second;
    replica->queued = false;
    lock.unlock();
    const Status caught_up = CatchUp(replica);
    lock.lock();
    if (!caught_up.ok()) {
      LogWarn("cluster_catch_up_failed", {{"index", name}, {"error", caught_up.message()}});
      // Bucket trouble: try again shortly, without spinning.
      follow_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping_; });
      if (stopping_) return;
      auto again = replicas_.find(name);
      if (again != replicas_.end() && again->second == replica) EnqueueLocked(*replica);
    }
  }
}

Status ClusterCoordinator::CatchUp(const std::shared_ptr<Replica>& replica) {
  while (true) {
    std::shared_ptr<Index> index;
    uint64_t target = 0, snapshot_tag = 0;
    int64_t target_term = 0;
    std::optional<std::pair<int64_t, std::string>> hint;
    {
      std::lock_guard lock(mutex_);
      index = replica->index;
      if (stopping_ || index->dropped()) return Status::Ok();
      // The writer applies its own commits.
      if (replica->committer->active()) return Status::Ok();
      target = replica->target;
      target_term = replica->target_term;
      snapshot_tag = replica->snapshot_tag;
    }
    const uint64_t applied = index->applied_sequence();
    if (applied >= target) return Status::Ok();
    {
      std::lock_guard lock(mutex_);
      replica->hints.erase(replica->hints.begin(), replica->hints.upper_bound(applied));
      if (auto it = replica->hints.find(applied + 1); it != replica->hints.end()) {
        hint = it->second;
      }
    }
    // A new replica starts from the latest snapshot rather than replaying
    // every commit.
    if (applied == 0 && snapshot_tag > 0) {
      VECTORD_RETURN_IF_ERROR(LoadSnapshot(replica));
      continue;
    }
    Status applied_records =
        ApplyObjects(*replica, *index, applied, target, target_term,
                     hint && hint->first <= target_term ? std::optional<std::string>(hint->second)
                                                        : std::nullopt);
    // Records this replica lacks were deleted once a snapshot covered them
    // (it fell behind a whole snapshot interval): load the snapshot.
    if (!applied_records.ok() && snapshot_tag > index->applied_sequence()) {
      LogInfo("cluster_replica_reloads_snapshot",
              {{"index", replica->name}, {"reason", applied_records.message()}});
      VECTORD_RETURN_IF_ERROR(LoadSnapshot(replica));
      continue;
    }
    VECTORD_RETURN_IF_ERROR(applied_records);
  }
}

Status ClusterCoordinator::ApplyObjects(const Replica& replica, Index& index, uint64_t applied,
                                        uint64_t target, int64_t target_term,
                                        const std::optional<std::string>& hinted_key) {
  // Which objects hold (applied, target], and up to which record each.
  std::vector<std::pair<std::string, uint64_t>> plan;
  if (hinted_key) {
    plan.emplace_back(*hinted_key, target);
  } else {
    VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> keys,
                             bucket_->List(ObjectFolder(replica.name, replica.incarnation)));
    // A term's objects start where the sequence committed before it ended;
    // a later term overrides an earlier one from its start on (the earlier
    // term's records from there were never committed).
    std::map<int64_t, std::vector<SegmentObject>> by_term;
    for (const std::string& key : keys) {
      SegmentObject object;
      if (ParseObjectKey(key, &object) && object.term <= target_term) {
        by_term[object.term].push_back(std::move(object));
      }
    }
    std::map<int64_t, uint64_t> starts;
    for (const auto& [term, objects] : by_term) {
      uint64_t start = UINT64_MAX;
      for (const SegmentObject& o : objects) start = std::min(start, o.first);
      starts[term] = start;
    }
    for (uint64_t s = applied + 1; s <= target;) {
      int64_t owner = 0;
      for (const auto& [term, start] : starts) {
        if (start <= s) owner = term;
      }
      const SegmentObject* holder = nullptr;
      if (owner != 0) {
        for (const SegmentObject& o : by_term[owner]) {
          if (o.first <= s && s <= o.last) holder = &o;
        }
      }
      if (holder == nullptr) {
        return Status::Corruption("no object in " + bucket_->Describe() + " holds record " +
                                  std::to_string(s) + " of index " + replica.name +
                                  ", committed through " + std::to_string(target));
      }
      uint64_t cap = std::min(holder->last, target);
      for (const auto& [term, start] : starts) {
        if (term > owner) cap = std::min(cap, start - 1);
      }
      plan.emplace_back(holder->key, cap);
      s = cap + 1;
    }
  }

  // A replica far behind (a node starting) reads many small objects: fetch
  // a window of them at once, apply them in order.
  constexpr size_t kFetchWindow = 8;
  std::deque<std::future<Result<std::string>>> fetches;
  size_t next_fetch = 0;
  auto fill = [&] {
    while (next_fetch < plan.size() && fetches.size() < kFetchWindow) {
      fetches.push_back(std::async(
          std::launch::async, [this, key = plan[next_fetch].first] { return bucket_->Get(key); }));
      ++next_fetch;
    }
  };
  uint64_t at = applied;
  for (const auto& [key, cap] : plan) {
    fill();
    Result<std::string> fetched = fetches.front().get();
    fetches.pop_front();
    if (!fetched.ok()) {
      for (auto& f : fetches) f.wait();
      return fetched.status();
    }
    const std::string bytes = std::move(fetched).value();
    std::vector<store::LogRecord> records;
    if (Status parsed = store::ParseSegment(bytes, key, &records).status(); !parsed.ok()) {
      for (auto& f : fetches) f.wait();
      return parsed;
    }
    for (const store::LogRecord& record : records) {
      if (record.sequence <= at) continue;
      if (record.sequence > cap) break;
      Status failed;
      if (record.sequence != at + 1) {
        failed = Status::Corruption(key + ": record " + std::to_string(record.sequence) +
                                    " where " + std::to_string(at + 1) + " was expected");
      } else {
        failed =
            index.ApplyCommitted(record, registry_->workers()).WithContext("index " + replica.name);
      }
      if (!failed.ok()) {
        for (auto& f : fetches) f.wait();
        return failed;
      }
      at = record.sequence;
    }
  }
  if (at == applied) {
    return Status::Corruption("the objects of index " + replica.name + " in " +
                              bucket_->Describe() + " do not hold record " +
                              std::to_string(applied + 1));
  }
  return Status::Ok();
}

Status ClusterCoordinator::LoadSnapshot(const std::shared_ptr<Replica>& replica) {
  std::string key;
  uint64_t tag = 0;
  std::shared_ptr<Index> old;
  {
    std::lock_guard lock(mutex_);
    key = replica->snapshot_key;
    tag = replica->snapshot_tag;
    old = replica->index;
  }
  const auto started = std::chrono::steady_clock::now();
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::ObjectReader> reader, bucket_->Open(key));
  uint64_t file_tag = 0;
  const IndexParams& params = old->params();
  VECTORD_ASSIGN_OR_RETURN(
      std::unique_ptr<engine::HnswIndex> engine,
      engine::HnswIndex::Load(*reader, &file_tag,
                              EngineOptions(params, registry_->vector_directory()).vectors));
  const engine::IndexOptions& o = engine->options();
  if (file_tag != tag || o.dimension != params.dimension || o.metric != params.metric ||
      o.m != params.m) {
    return Status::Corruption(key + ": does not match index " + replica->name + " (tag " +
                              std::to_string(file_tag) + ", expected " + std::to_string(tag) + ")");
  }
  auto index = std::make_shared<Index>(params, std::move(engine));
  index->SetAppliedSequence(tag);
  index->AttachCommitLog(replica->committer);
  std::lock_guard lock(mutex_);
  auto it = replicas_.find(replica->name);
  if (it == replicas_.end() || it->second != replica || replica->index != old) return Status::Ok();
  if (!registry_->Replace(old, index)) (void)registry_->Register(index);
  replica->index = std::move(index);
  LogInfo("cluster_snapshot_loaded",
          {{"index", replica->name},
           {"tag", std::to_string(tag)},
           {"seconds",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
  return Status::Ok();
}

void ClusterCoordinator::SnapshotDueIndexes() {
  int64_t term = 0;
  std::vector<std::shared_ptr<Replica>> due;
  {
    std::lock_guard lock(mutex_);
    if (!writer_) return;
    term = term_;
    for (const auto& [name, replica] : replicas_) {
      const Committer& c = *replica->committer;
      if (c.active() &&
          (c.bytes_since_snapshot.load(std::memory_order_relaxed) >= options_.snapshot_bytes ||
           c.commits_since_snapshot.load(std::memory_order_relaxed) >= options_.snapshot_commits)) {
        due.push_back(replica);
      }
    }
  }
  for (const std::shared_ptr<Replica>& replica : due) {
    if (Status s = Snapshot(replica, term); !s.ok()) {
      LogWarn("cluster_snapshot_failed", {{"index", replica->name}, {"error", s.message()}});
    }
  }
}

Status ClusterCoordinator::Snapshot(const std::shared_ptr<Replica>& replica, int64_t term) {
  Committer& committer = *replica->committer;
  const uint64_t bytes = committer.bytes_since_snapshot.load(std::memory_order_relaxed);
  const uint64_t commits = committer.commits_since_snapshot.load(std::memory_order_relaxed);
  std::shared_ptr<Index> index;
  {
    std::lock_guard lock(mutex_);
    index = replica->index;
  }
  // Records after the tag may be in the snapshot too (writes go on while it
  // is saved); a replica that loads it applies them again, in order, which
  // leaves every id as its last write made it.
  const uint64_t tag = index->applied_sequence();
  const std::string key = SnapshotObjectKey(replica->name, replica->incarnation, tag, term);
  const auto started = std::chrono::steady_clock::now();
  {
    VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::ObjectWriter> writer, bucket_->Create(key));
    VECTORD_RETURN_IF_ERROR(index->engine().Save(*writer, tag));
    VECTORD_RETURN_IF_ERROR(writer->Commit());
  }
  JsonWriter w;
  w.BeginObject().Key("tag").Int(static_cast<int64_t>(tag));
  w.Key("incarnation").Int(replica->incarnation).Key("key").String(key).EndObject();
  const std::string value = std::move(w).Finish();
  // Committed under the term, like a write: a deposed writer's snapshot is
  // never named, so nothing of it is loaded and it deletes nothing.
  auto txn = etcd_->Txn({TermHolds(WriterKey(), term),
                         IncarnationHolds(IndexKey(replica->name), replica->incarnation)},
                        {PutOp(SnapshotKey(replica->name), value)});
  if (!txn.ok() || !txn->succeeded) {
    (void)bucket_->Delete(key);
    return txn.ok() ? Status::Unavailable("the term ended") : txn.status();
  }
  committer.bytes_since_snapshot.fetch_sub(bytes, std::memory_order_relaxed);
  committer.commits_since_snapshot.fetch_sub(commits, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    NoteSnapshotLocked(*replica, value);
  }
  // What the snapshot covers: segment objects wholly at or below its tag,
  // and older snapshots. (Only older: a newer writer's snapshot has a tag at
  // least this one's.)
  size_t deleted = 0;
  if (auto keys = bucket_->List(ObjectFolder(replica->name, replica->incarnation)); keys.ok()) {
    for (const std::string& k : *keys) {
      SegmentObject object;
      uint64_t other_tag = 0;
      const bool covered = (ParseObjectKey(k, &object) && object.last <= tag) ||
                           (ParseSnapshotKey(k, &other_tag) && other_tag < tag);
      if (covered && bucket_->Delete(k).ok()) ++deleted;
    }
  }
  LogInfo("cluster_snapshot_uploaded",
          {{"index", replica->name},
           {"tag", std::to_string(tag)},
           {"objects_deleted", deleted},
           {"seconds",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
  return Status::Ok();
}

Status ClusterCoordinator::CommitGroup(
    const std::string& name, int64_t incarnation, uint32_t dimension, int64_t term, uint64_t first,
    const std::vector<std::pair<RecordType, std::string*>>& records) {
  const uint64_t last = first + records.size() - 1;
  std::string body = store::log_format::EncodeSegmentHeader(dimension, first);
  for (size_t i = 0; i < records.size(); ++i) {
    body += store::log_format::FrameRecord(first + i, records[i].first, *records[i].second);
  }
  const std::string key = ObjectKey(name, incarnation, first, last, term);
  if (Status put = bucket_->Put(key, body); !put.ok()) {
    return Status::Unavailable("object store " + bucket_->Describe() + ": " + put.message() +
                               " (the write is not applied: retry it)");
  }
  auto txn =
      etcd_->Txn({TermHolds(WriterKey(), term), IncarnationHolds(IndexKey(name), incarnation)},
                 {PutOp(CommittedKey(name), CommittedJson(last, term, incarnation, key))},
                 {GetOp(IndexKey(name))});
  if (!txn.ok()) {
    return Status::Unavailable(
        etcd_->Describe() + " did not answer the commit (" + txn.status().message() +
        "); outcome unknown: the write is not applied here, retry it (adds replace by id, deletes "
        "are idempotent)");
  }
  if (!txn->succeeded) {
    if (txn->reads.empty() || txn->reads[0].empty() ||
        txn->reads[0][0].create_revision != incarnation) {
      return Status::NotFound("not found");
    }
    return Status::Unavailable("node " + options_.node_id + " is no longer the writer (its term " +
                               std::to_string(term) + " ended): retry the write");
  }
  return Status::Ok();
}

void ClusterCoordinator::CommitFailed(int64_t term) {
  std::lock_guard lock(mutex_);
  if (writer_ && term_ == term) reterm_needed_ = true;
  wake_.notify_all();
}

void ClusterCoordinator::CoordinateLoop() {
  auto last_publish = std::chrono::steady_clock::now() - std::chrono::hours(1);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const bool resync = watch_broken_;
    watch_broken_ = false;
    lock.unlock();
    if (resync) {
      watch_.reset();
      Result<int64_t> revision = Resync();
      if (revision.ok()) {
        StartWatch(*revision + 1);
      } else {
        std::lock_guard relock(mutex_);
        watch_broken_ = true;  // again next round
      }
    }
    Campaign();
    ActivateCommitters();
    SnapshotDueIndexes();
    if (std::chrono::steady_clock::now() - last_publish >= 2 * options_.check_interval) {
      PublishApplied();
      last_publish = std::chrono::steady_clock::now();
    }
    lock.lock();
    if (stopping_) break;
    wake_.wait_for(lock, options_.check_interval);
  }
}

void ClusterCoordinator::Campaign() {
  const Status health = membership_->health();
  if (!health.ok()) {
    std::lock_guard lock(mutex_);
    if (writer_) StepDownLocked(health);
    return;
  }
  const int64_t lease = membership_->lease();
  auto current = etcd_->Get(WriterKey());
  if (!current.ok()) return;  // etcd down: the commits fail by themselves
  JsonWriter w;
  w.BeginObject().Key("node").String(options_.node_id).Key("url").String(options_.advertise_url);
  w.EndObject();
  const std::string mine = std::move(w).Finish();
  if (!current->has_value()) {
    auto won = etcd_->Txn({{.key = WriterKey(),
                            .target = EtcdCompare::Target::kVersion,
                            .result = EtcdCompare::Result::kEqual,
                            .value = "",
                            .number = 0}},
                          {PutOp(WriterKey(), mine, lease)});
    if (won.ok() && won->succeeded) {
      std::lock_guard lock(mutex_);
      BecomeWriterLocked(won->revision);
    }
    return;
  }
  const store::EtcdKeyValue& kv = **current;
  const std::string node = JsonStringField(kv.value, "node");
  if (node == options_.node_id && kv.lease == lease) {
    bool renew = false;
    {
      std::lock_guard lock(mutex_);
      renew = !writer_ || reterm_needed_ || term_ != kv.mod_revision;
    }
    if (!renew) return;
    // A new term: the same key rewritten, so its mod_revision rises and
    // every commit still in flight in the old term fails its compare.
    auto renewed =
        etcd_->Txn({TermHolds(WriterKey(), kv.mod_revision)}, {PutOp(WriterKey(), mine, lease)});
    if (renewed.ok() && renewed->succeeded) {
      std::lock_guard lock(mutex_);
      BecomeWriterLocked(renewed->revision);
    }
    return;
  }
  std::lock_guard lock(mutex_);
  if (writer_) StepDownLocked(Status::Unavailable("node " + node + " is the writer now"));
  writer_info_ = WriterInfo{node, JsonStringField(kv.value, "url"), kv.mod_revision};
}

void ClusterCoordinator::BecomeWriterLocked(int64_t term) {
  const bool was = writer_;
  writer_ = true;
  term_ = term;
  reterm_needed_ = false;
  writer_info_ = WriterInfo{options_.node_id, options_.advertise_url, term};
  // Each index commits again once its replica holds everything committed
  // before this term (ActivateCommitters).
  for (auto& [name, replica] : replicas_) {
    replica->committer->Deactivate(Status::Unavailable(
        "node " + options_.node_id + " became the writer in term " + std::to_string(term) +
        " and is catching up with index " + name + ": retry"));
  }
  LogInfo(was ? "cluster_writer_new_term" : "cluster_became_writer",
          {{"node", options_.node_id}, {"term", std::to_string(term)}});
}

void ClusterCoordinator::StepDownLocked(const Status& reason) {
  if (writer_) {
    LogWarn("cluster_writer_stepped_down",
            {{"node", options_.node_id}, {"reason", reason.message()}});
  }
  writer_ = false;
  term_ = 0;
  for (auto& [name, replica] : replicas_) {
    replica->committer->Deactivate(Status::Unavailable(
        "node " + options_.node_id + " is not the writer (" + reason.message() + "): retry"));
  }
}

void ClusterCoordinator::ActivateCommitters() {
  int64_t term = 0;
  std::vector<std::shared_ptr<Replica>> waiting;
  {
    std::lock_guard lock(mutex_);
    if (!writer_) return;
    term = term_;
    for (const auto& [name, replica] : replicas_) {
      if (!replica->committer->active() && replica->committer->failed_term() < term) {
        waiting.push_back(replica);
      }
    }
  }
  if (waiting.empty()) return;
  auto committed = etcd_->GetPrefix(Key("committed/"));
  if (!committed.ok()) return;
  std::map<std::string, std::string, std::less<>> values;
  for (const store::EtcdKeyValue& kv : *committed) {
    values[kv.key.substr(Key("committed/").size())] = kv.value;
  }
  std::lock_guard lock(mutex_);
  if (!writer_ || term_ != term) return;
  for (const std::shared_ptr<Replica>& replica : waiting) {
    auto value = values.find(replica->name);
    CommittedValue parsed;
    if (value == values.end() || !ParseCommitted(value->second, &parsed)) continue;
    if (parsed.incarnation != 0 && parsed.incarnation != replica->incarnation) continue;
    if (replica->index->applied_sequence() >= parsed.sequence) {
      replica->committer->Activate(term, parsed.sequence);
      // At most this many commits since the snapshot (records >= commits).
      replica->committer->commits_since_snapshot.store(
          parsed.sequence - std::min(parsed.sequence, replica->snapshot_tag),
          std::memory_order_relaxed);
    } else {
      NoteCommittedLocked(*replica, value->second);
    }
  }
}

void ClusterCoordinator::PublishApplied() {
  JsonWriter w;
  w.BeginObject();
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, replica] : replicas_) {
      w.Key(name).Int(static_cast<int64_t>(replica->index->applied_sequence()));
    }
  }
  w.EndObject();
  const int64_t lease = membership_->lease();
  std::string text = std::move(w).Finish() + "#" + std::to_string(lease);
  if (text == last_published_ || lease == 0) return;
  const std::string json = text.substr(0, text.rfind('#'));
  if (etcd_->Put(Key("applied/") + options_.node_id, json, lease).ok()) {
    last_published_ = std::move(text);
  }
}

Status ClusterCoordinator::OnCreate(Index& index) {
  const std::string& name = index.params().name;
  std::lock_guard lock(mutex_);
  if (!writer_) {
    return Status::Unavailable("node " + options_.node_id + " is not the writer: retry");
  }
  auto txn = etcd_->Txn({{.key = IndexKey(name),
                          .target = EtcdCompare::Target::kVersion,
                          .result = EtcdCompare::Result::kEqual,
                          .value = "",
                          .number = 0},
                         TermHolds(WriterKey(), term_)},
                        {PutOp(IndexKey(name), ParamsJson(index.params())),
                         PutOp(CommittedKey(name), CommittedJson(0, term_, 0, ""))},
                        {GetOp(IndexKey(name))});
  if (!txn.ok()) {
    return Status::Unavailable(etcd_->Describe() + ": " + txn.status().message() +
                               " (the index is not created: retry)");
  }
  if (!txn->succeeded) {
    if (!txn->reads.empty() && !txn->reads[0].empty()) {
      return Status::AlreadyExists("index already exists: " + name);
    }
    return Status::Unavailable("node " + options_.node_id + " is no longer the writer: retry");
  }
  auto replica = std::make_shared<Replica>();
  replica->name = name;
  replica->incarnation = txn->revision;
  replica->dimension = index.params().dimension;
  replica->index = index.shared_from_this();
  replica->committer = std::make_shared<Committer>(this, name, txn->revision, replica->dimension);
  replica->committer->Activate(term_, 0);
  index.AttachCommitLog(replica->committer);
  if (auto old = replicas_.find(name); old != replicas_.end()) ForgetReplicaLocked(name);
  replicas_[name] = std::move(replica);
  return Status::Ok();
}

Status ClusterCoordinator::OnDrop(Index& index) {
  const std::string name = index.params().name;
  int64_t incarnation = 0;
  {
    std::lock_guard lock(mutex_);
    if (!writer_) {
      return Status::Unavailable("node " + options_.node_id + " is not the writer: retry");
    }
    auto it = replicas_.find(name);
    if (it == replicas_.end()) return Status::NotFound("not found");
    incarnation = it->second->incarnation;
    auto txn = etcd_->Txn(
        {IncarnationHolds(IndexKey(name), incarnation), TermHolds(WriterKey(), term_)},
        {DeleteOp(IndexKey(name)), DeleteOp(CommittedKey(name)), DeleteOp(SnapshotKey(name))},
        {GetOp(IndexKey(name))});
    if (!txn.ok()) {
      return Status::Unavailable(etcd_->Describe() + ": " + txn.status().message() +
                                 " (the index is not dropped: retry)");
    }
    if (!txn->succeeded) {
      if (txn->reads.empty() || txn->reads[0].empty()) return Status::NotFound("not found");
      return Status::Unavailable("node " + options_.node_id + " is no longer the writer: retry");
    }
    it->second->committer->Deactivate(Status::NotFound("not found"));
    replicas_.erase(it);
    dropped_[name] = incarnation;
  }
  // The drop is committed; the objects are garbage now. A failure here
  // leaves them under a folder no incarnation reads again.
  auto keys = bucket_->List(ObjectFolder(name, incarnation));
  if (keys.ok()) {
    for (const std::string& key : *keys) (void)bucket_->Delete(key);
  }
  return Status::Ok();
}

Result<std::string> ClusterCoordinator::OnQuarantine(const std::string& name) {
  return Status::NotFound("index " + name + " has no local files in cluster mode");
}

Result<Recovered> ClusterCoordinator::OnRecover(const std::string& name, ThreadPool*) {
  return Status::NotFound("index " + name + " has no local files in cluster mode");
}

Status ClusterCoordinator::EtcdHealth() const { return membership_->health(); }

bool ClusterCoordinator::IsWriter() const {
  std::lock_guard lock(mutex_);
  return writer_;
}

std::optional<WriterInfo> ClusterCoordinator::Writer() const {
  std::lock_guard lock(mutex_);
  return writer_info_;
}

Status ClusterCoordinator::WaitForRead(std::string_view name, bool strong, uint64_t min_sequence,
                                       std::chrono::steady_clock::time_point deadline) {
  uint64_t want = min_sequence;
  int64_t incarnation = 0;
  if (strong) {
    auto read = etcd_->Txn({}, {GetOp(IndexKey(name)), GetOp(CommittedKey(name))});
    if (!read.ok()) {
      return Status::Unavailable("a strong read needs " + etcd_->Describe() + ": " +
                                 read.status().message());
    }
    if (read->reads[0].empty()) return Status::NotFound("not found");
    incarnation = read->reads[0][0].create_revision;
    CommittedValue committed;
    if (!read->reads[1].empty() && ParseCommitted(read->reads[1][0].value, &committed) &&
        (committed.incarnation == 0 || committed.incarnation == incarnation)) {
      want = std::max(want, committed.sequence);
    }
  }
  if (want == 0 && incarnation == 0) return Status::Ok();
  uint64_t applied = 0;
  while (true) {
    std::shared_ptr<Index> index;
    {
      std::lock_guard lock(mutex_);
      auto it = replicas_.find(name);
      // A newer incarnation than etcd named is newer than the read: fine.
      if (it != replicas_.end() && it->second->incarnation >= incarnation) {
        index = it->second->index;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    const auto slice = std::min(deadline, now + std::chrono::milliseconds(50));
    if (index) {
      if (index->WaitApplied(want, slice)) return Status::Ok();
      applied = index->applied_sequence();
    } else {
      std::this_thread::sleep_until(slice);
    }
  }
  return Status::TimedOut("node " + options_.node_id + " has applied " + std::to_string(applied) +
                          " of the " + std::to_string(want) + " records of index " +
                          std::string(name) + " the read needs; try again or read from the writer");
}

std::vector<ClusterCoordinator::ReplicaProgress> ClusterCoordinator::Progress() const {
  std::lock_guard lock(mutex_);
  std::vector<ReplicaProgress> progress;
  for (const auto& [name, replica] : replicas_) {
    const uint64_t applied = replica->index->applied_sequence();
    progress.push_back({name, applied, std::max(applied, replica->target)});
  }
  return progress;
}

int64_t ClusterCoordinator::term() const {
  std::lock_guard lock(mutex_);
  return writer_ ? term_ : 0;
}

Result<ClusterStatus> ClusterCoordinator::Describe() {
  ClusterStatus status;
  status.writer = Writer();
  status.nodes = membership_->Nodes();
  VECTORD_ASSIGN_OR_RETURN(
      const store::EtcdTxnResult read,
      etcd_->Txn({}, {GetOp(Key("committed/"), true), GetOp(Key("applied/"), true)}));
  // node -> (index -> applied)
  std::map<std::string, std::map<std::string, uint64_t, std::less<>>> applied;
  for (const store::EtcdKeyValue& kv : read.reads[1]) {
    simdjson::dom::parser parser;
    simdjson::dom::object fields;
    if (parser.parse(kv.value).get(fields) != simdjson::SUCCESS) continue;
    auto& of_node = applied[kv.key.substr(Key("applied/").size())];
    for (auto field : fields) {
      uint64_t sequence = 0;
      if (field.value.get_uint64().get(sequence) == simdjson::SUCCESS) {
        of_node[std::string(field.key)] = sequence;
      }
    }
  }
  for (const store::EtcdKeyValue& kv : read.reads[0]) {
    ClusterStatus::IndexState state;
    state.name = kv.key.substr(Key("committed/").size());
    CommittedValue committed;
    if (ParseCommitted(kv.value, &committed)) state.sequence = committed.sequence;
    for (const auto& [node, of_node] : applied) {
      if (auto it = of_node.find(state.name); it != of_node.end()) {
        state.replicas.push_back({node, it->second});
      }
    }
    status.indexes.push_back(std::move(state));
  }
  return status;
}

}  // namespace vectord::service
