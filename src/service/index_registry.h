// The service layer: named indexes, their parameters, whole-batch
// validation, and the ordering of writes through each index's write-ahead
// log.
//
// Index wraps one engine::HnswIndex with the parameters the API speaks of
// (name, distance, m, ef_search) and the item metadata stored as the engine's
// payload (minified JSON text). When persistence is on, every write goes
// first to the index's log: the batch is validated, appended, made durable
// (unless the caller asked for less), and only then applied to the engine, in
// log order. So a write that fails is never visible, and one that succeeded
// is on disk before its response leaves.
//
// Registry maps names to indexes and tells a Persistence about creations,
// drops and writes.
//
// Thread safety: every method of both classes may be called from any thread.
// The registry's map is guarded by a mutex held only for lookups and
// insertions; creates and drops are serialised with each other. An index's
// logged writes are applied one at a time under its apply mutex, which also
// orders the additions to its replay estimate (ReplayCost, atomics that any
// thread may read).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "engine/hnsw_index.h"
#include "service/filter.h"
#include "service/index_stats.h"
#include "service/metadata_index.h"
#include "service/recall_monitor.h"
#include "store/log_reader.h"
#include "store/log_writer.h"

namespace vectord::service {

inline constexpr size_t kDefaultK = 10;
inline constexpr size_t kMaxK = 1000;
inline constexpr size_t kMaxBatchItems = 100000;
// The largest ef a search, a recall check or an index's parameters may name.
inline constexpr uint32_t kMaxEf = engine::kMaxEf;

struct IndexParams {
  std::string name;
  uint32_t dimension = 0;
  uint32_t m = engine::kDefaultM;
  uint32_t ef_search = engine::kDefaultEfSearch;
  uint32_t ef_construction = engine::kDefaultEfConstruction;
  engine::Metric metric = engine::Metric::kCosine;
  engine::Quantization quantization = engine::Quantization::kNone;
  engine::VectorPlacement vectors = engine::VectorPlacement::kMemory;

  // The API's names: "cosine", "euclidean", "dot"; "none", "sq8"; "memory",
  // "disk".
  std::string_view distance_name() const;
  std::string_view quantization_name() const;
  std::string_view vectors_name() const;
};

// A create request as the client sent it: 0 means "use the default".
struct CreateSpec {
  std::string name;
  int64_t dimension = 0;
  int64_t m = 0;
  int64_t ef_search = 0;
  int64_t ef_construction = 0;
  std::string distance;      // empty: cosine
  std::string quantization;  // empty: none (sq8 when vectors is "disk")
  std::string vectors;       // empty: memory
};

// Fills defaults and checks every field; InvalidArgument names the field.
Result<IndexParams> ResolveParams(const CreateSpec& spec);
// The engine's options for an index with these parameters (a "disk" index
// makes its vector file in `vector_directory`), and back.
engine::IndexOptions EngineOptions(const IndexParams& params, const std::string& vector_directory);
IndexParams ParamsOf(std::string name, const engine::IndexOptions& options);

struct NewItem {
  std::string id;
  std::vector<float> vector;
  std::optional<std::string> metadata;  // minified JSON text; "null" for an explicit null
};

struct SearchSpec {
  std::vector<float> vector;
  int64_t k = 0;  // <= 0: kDefaultK; above kMaxK: kMaxK
  size_t ef = 0;  // 0: the index's ef_search
  bool include_vector = false;
  bool include_metadata = true;
  std::shared_ptr<const FilterGroup> filter;  // null: every item
};

// What reads and searches return. The service answers in its own types so
// that the layers above it never depend on the engine's.
struct StoredItem {
  std::string id;
  std::vector<float> vector;            // as it was given; empty when not asked for
  std::optional<std::string> metadata;  // minified JSON text; absent when none was stored
};

struct SearchHit {
  std::string id;
  float distance = 0;                   // in the metric's own definition (engine::Metric)
  std::optional<std::string> metadata;  // when asked for and present
  std::vector<float> vector;            // when asked for
};

// One page of a scroll through an index in id order.
struct ScrollPage {
  std::vector<StoredItem> items;
  // The id to continue after; nullopt on the last page.
  std::optional<std::string> next_after;
};

// How durable a write must be before it is acknowledged.
enum class Durability : uint8_t {
  kDefault = 0,  // the server's fsync policy
  kFsync = 1,    // the log record is fsynced: survives a machine crash
  kWritten = 2,  // the log record is written to the OS: survives a process crash
  // The log record is in the object store: survives the loss of the machine.
  kObjectStore = 3,
};
// "fsync", "written", "object_store"; "none" for an index without a log
// (ephemeral mode).
std::string_view DurabilityName(Durability level);
// Parses the ?durability= value: "object_store", "fsync", "none" (written,
// not fsynced), or "".
Result<Durability> ParseDurability(std::string_view text);

struct WriteResult {
  size_t affected = 0;  // items added, or ids found and deleted
  size_t length = 0;    // items in the index afterwards
  std::string_view durability;
  // The write's position in the index's log (its commit sequence in a
  // cluster): a read with min_sequence >= it sees it. 0 without a log.
  uint64_t sequence = 0;
};

// Where an index's writes go in cluster mode instead of a local log
// (ClusterCoordinator, docs/cluster-protocol.md): Commit makes the record
// durable in the bucket and commits it in etcd, then calls `apply` with the
// record's sequence — in sequence order, one record at a time, possibly on
// another writer's thread while the caller waits — and returns the
// sequence. A record that fails to commit is never applied.
//
// Thread safety: Commit may be called from any thread.
class CommitLog {
 public:
  virtual ~CommitLog() = default;
  virtual Result<uint64_t> Commit(store::log_format::RecordType type, std::string payload,
                                  const std::function<Status(uint64_t sequence)>& apply) = 0;
};

// What the checkpoint policy (IndexStorage; docs/storage-layout.md,
// "Checkpoint") weighs for one index: the replay estimate — the wall time
// the logged writes not yet in a snapshot took to apply, about what a
// restart spends replaying them (replay runs the same inserts on the same
// worker pool) — against the duration of the index's last checkpoint.
//
// Thread safety: every method may be called from any thread. The figures
// are atomics; Add is called under the index's apply mutex (one logged write
// at a time), the rest by recovery and by checkpoints (serialised by the
// storage), so none of them needs a lock of its own.
class ReplayCost {
 public:
  // The replay estimate, in seconds (never below 0).
  double seconds() const { return seconds_.load(std::memory_order_relaxed); }
  // A logged write took `seconds` to apply.
  void Add(double seconds);
  // Recovery: the measured time of the replay that rebuilt the index.
  void Reset(double seconds) { seconds_.store(seconds, std::memory_order_relaxed); }
  // A checkpoint's snapshot now covers what took `seconds` to apply.
  void Discount(double seconds);

  // The duration of the last checkpoint that succeeded (0 before the first).
  double last_checkpoint_seconds() const {
    return last_checkpoint_seconds_.load(std::memory_order_relaxed);
  }
  // The estimate a retry waits for after a failed checkpoint (0: none).
  double retry_at_seconds() const { return retry_at_seconds_.load(std::memory_order_relaxed); }
  void CheckpointSucceeded(double duration);
  // A checkpoint failed: the next attempt waits until `budget` more seconds
  // of writes have been applied (as a failed checkpoint by log size waits
  // for the next segment to fill).
  void CheckpointFailed(double budget);

 private:
  std::atomic<double> seconds_{0};
  std::atomic<double> last_checkpoint_seconds_{0};
  std::atomic<double> retry_at_seconds_{0};
};

class Index : public std::enable_shared_from_this<Index> {
 public:
  Index(IndexParams params, std::unique_ptr<engine::HnswIndex> engine);

  const IndexParams& params() const { return params_; }
  size_t size() const { return engine_->size(); }
  engine::HnswIndex& engine() { return *engine_; }
  const engine::HnswIndex& engine() const { return *engine_; }

  // Gives the index its write-ahead log; called once, before it takes writes.
  // Durability::kDefault means kObjectStore when `ship_by_default` (an object
  // store is configured and the log has a shipper), else kFsync when
  // `fsync_by_default`, else kWritten.
  void AttachLog(std::unique_ptr<store::LogWriter> log, bool fsync_by_default,
                 bool ship_by_default = false);
  store::LogWriter* log() const { return log_.get(); }
  // Cluster mode: every write goes through `commit_log` instead of a local
  // log; called once, before the index takes writes.
  void AttachCommitLog(std::shared_ptr<CommitLog> commit_log);

  // Validates the whole batch (messages "items[j]: ..."), logs it, then
  // upserts it in one engine write spread over `workers`.
  Result<WriteResult> Add(std::span<const NewItem> items, ThreadPool* workers,
                          Durability durability);
  // Deletes the ids that exist; absent ones are not an error.
  Result<WriteResult> Remove(std::span<const std::string> ids, Durability durability);
  Result<std::vector<SearchHit>> Search(const SearchSpec& spec) const;
  // The item stored under `id`, or nullopt.
  std::optional<StoredItem> Get(std::string_view id) const;
  // Up to `limit` items with ids after `after` (all when empty), in byte
  // order of ids. Ids order the scroll, so an item that lives through a whole
  // scroll appears exactly once even if it is rewritten meanwhile.
  ScrollPage Scroll(std::string_view after, size_t limit, bool include_vector) const;
  // Bytes of the metadata and id-order structures (for /metrics and docs).
  size_t auxiliary_memory_bytes() const;
  // Everything the index holds in memory: the engine's vectors, codes and
  // links plus auxiliary_memory_bytes().
  size_t memory_bytes() const;
  // memory_bytes() at a constant cost per call, for the registry's memory
  // budget: the metadata index's share is re-measured only after the index
  // has changed by an eighth of its size.
  size_t budget_bytes() const;
  // The vector rows in use in the vector file of an index with vectors
  // "disk"; 0 for the others.
  size_t disk_vector_bytes() const;

  // Recovery: applies a logged batch without logging it again.
  Status ReplayUpsert(std::span<const NewItem> items, ThreadPool* workers);
  void ReplayDelete(std::span<const std::string> ids);
  // The highest log sequence applied; recovery sets it once.
  uint64_t applied_sequence() const { return applied_sequence_.load(std::memory_order_acquire); }
  void SetAppliedSequence(uint64_t sequence);
  // A cluster replica: applies a committed record read from the bucket
  // (sequence order is the caller's); Corruption if its payload does not
  // decode.
  Status ApplyCommitted(const store::LogRecord& record, ThreadPool* workers);
  // Waits until applied_sequence() >= sequence or `deadline`; whether it got
  // there.
  bool WaitApplied(uint64_t sequence, std::chrono::steady_clock::time_point deadline) const;

  // Traffic counters and search latencies (IndexStats), and the recall
  // self-check's samples and estimate (RecallTracker); both thread-safe.
  IndexStats& stats() const { return stats_; }
  RecallTracker& recall() const { return recall_; }
  // The replay estimate and checkpoint cost (thread-safe); logged writes add
  // their apply time to it.
  ReplayCost& replay_cost() const { return replay_cost_; }
  // The fraction of plain searches kept for the recall self-check (0: none).
  void set_recall_sample_rate(double rate) {
    recall_sample_rate_.store(rate, std::memory_order_relaxed);
  }

  // Bumped by every change.
  uint64_t change_count() const { return changes_.load(std::memory_order_acquire); }
  bool dropped() const { return dropped_.load(std::memory_order_acquire); }
  void MarkDropped() { dropped_.store(true, std::memory_order_release); }
  // Set when applying a logged write threw (memory ran out part way): the
  // write is cancelled in the log, but the engine may hold part of it. Such
  // an index is never checkpointed; the registry replaces it with a fresh
  // load from its snapshot and log (which skip the cancelled write) before
  // its next use.
  bool diverged() const { return diverged_.load(std::memory_order_acquire); }
  // diverged(), after the write being applied now (if any) has finished.
  bool DivergedOnceApplied() const {
    std::lock_guard lock(apply_mutex_);
    return diverged();
  }

 private:
  // Logs `payload`, waits for the durability asked for, then runs `apply`
  // when every earlier record of the log has been applied (or abandoned).
  template <typename Apply>
  Result<std::string_view> LogThenApply(store::log_format::RecordType type,
                                        const std::string& payload, Durability durability,
                                        Apply&& apply, uint64_t* sequence_out);
  // The no-op records (caller holds apply_mutex_).
  void AddNoOp(uint64_t sequence);
  bool TakeNoOp(uint64_t sequence);
  // Appends the record that tells replay to skip `sequence`.
  Result<uint64_t> AppendCancel(uint64_t sequence);
  // `failure`, or "outcome unknown" when an object store may hold the
  // cancelled record without its cancel record (waits a little for it).
  Status CancelShipped(Status failure, const Result<uint64_t>& cancel);
  // Cluster mode: commits through commit_log_, then applies.
  template <typename Apply>
  Result<uint64_t> CommitThenApply(store::log_format::RecordType type, std::string payload,
                                   Apply&& apply);
  // The engine write plus the metadata index and id order, in step; callers
  // hold apply_mutex_ (or replay alone).
  Status ApplyUpsert(std::span<const engine::ItemInput> inputs, ThreadPool* workers);
  size_t ApplyDelete(std::span<const std::string_view> ids);

  const IndexParams params_;
  std::unique_ptr<engine::HnswIndex> engine_;
  std::unique_ptr<store::LogWriter> log_;
  std::shared_ptr<CommitLog> commit_log_;
  bool fsync_by_default_ = true;
  bool ship_by_default_ = false;
  std::atomic<uint64_t> changes_{0};
  std::atomic<bool> dropped_{false};
  std::atomic<bool> diverged_{false};

  mutable std::mutex apply_mutex_;
  // Notified after every applied record: the next writer's turn, and
  // WaitApplied.
  mutable std::condition_variable apply_turn_;
  uint64_t next_apply_ = 1;  // guarded by apply_mutex_
  // Log records nobody applies (cancel records); few at a time. Guarded by
  // apply_mutex_.
  std::vector<uint64_t> no_op_sequences_;
  std::atomic<uint64_t> applied_sequence_{0};

  mutable IndexStats stats_;
  mutable RecallTracker recall_;
  mutable ReplayCost replay_cost_;  // Add called under apply_mutex_
  std::atomic<double> recall_sample_rate_{0};

  MetadataIndex metadata_;
  mutable std::shared_mutex ordered_ids_mutex_;
  std::set<std::string, std::less<>> ordered_ids_;  // live ids, for Scroll
  size_t ordered_ids_bytes_ = 0;                    // guarded by ordered_ids_mutex_
  // budget_bytes()'s last measure of the metadata index, and change_count()
  // then.
  mutable std::atomic<size_t> metadata_bytes_{0};
  mutable std::atomic<uint64_t> metadata_measured_at_{0};
};

// What a recovery of a failed index kept and what it could not.
struct RecoveryReport {
  std::string quarantine;          // the folder that now holds the damaged files
  uint64_t snapshot_sequence = 0;  // the snapshot kept (its last record); 0: none kept
  std::string snapshot_error;      // why the snapshot was not used; empty when it was or none
  uint64_t first_record = 0;       // log records replayed after it, first..last; 0: none
  uint64_t last_record = 0;
  uint64_t records = 0;
  std::string log_error;    // where the log's damage starts (file, byte); empty: read whole
  std::string params_note;  // set when the params came from the snapshot's header
  // With an object store: why its copy was not used (it did not load).
  std::string object_store_note;
  size_t items = 0;
  // One line: "kept: ...; lost: ..." for logs and answers.
  std::string Summary() const;
};

struct Recovered {
  std::shared_ptr<Index> index;
  RecoveryReport report;
  // Set when the recover was refused because the object store held a
  // complete copy, which was loaded instead (nothing lost): what happened,
  // for a 409 answer. The index is served either way.
  std::string loaded_object_store_copy;
};

// What the registry tells the persistence layer. OnCreate and OnDrop are
// durable before they return; a failure cancels the create or drop.
class Persistence {
 public:
  virtual ~Persistence() = default;
  // Stores the parameters and an empty log; attaches the log to the index.
  virtual Status OnCreate(Index& index) = 0;
  // Removes everything stored for the index. Once the drop is committed
  // (and before the stored data is deleted) it marks the index dropped and
  // closes its log, so that nothing of this index — no checkpoint, no log
  // record, no upload — is written after it returns: a re-create of the
  // name uses the same files and keys.
  virtual Status OnDrop(Index& index) = 0;
  // Moves the files of an index that failed to load out of the way, into a
  // quarantine folder that is never served or uploaded; returns its path.
  virtual Result<std::string> OnQuarantine(const std::string& name) = 0;
  // Rebuilds a failed index from what is intact in its files, moves the
  // damaged files to quarantine, and stores the rebuilt index durably. With
  // an object store holding a copy that loads whole, that copy is loaded
  // instead (Recovered::loaded_object_store_copy says so).
  virtual Result<Recovered> OnRecover(const std::string& name, ThreadPool* workers) = 0;
  // After every successful write (e.g. to schedule a checkpoint).
  virtual void OnWrite(const std::shared_ptr<Index>& index) = 0;

  // Loading on first use and unloading (docs/design/many-indexes.md). A
  // persistence that keeps every index loaded (the cluster's) keeps these
  // defaults, and the registry then never unloads.
  virtual bool CanUnload() const { return false; }
  // Loads a registered index that is not in memory, with its log attached.
  // Unavailable (a bucket that does not answer, descriptors) leaves it
  // unloaded; any other error makes it a failed index.
  virtual Result<std::shared_ptr<Index>> OnLoad(const std::string& name, ThreadPool* workers) {
    (void)workers;
    return Status::Internal("index " + name + " is not loaded, and this storage cannot load it");
  }
  // Makes everything the index holds durable in its snapshot (a checkpoint
  // when it has records since the last one) and forgets it, so that the
  // registry may drop it from memory; nothing else holds the index. On an
  // error the index stays loaded.
  virtual Status OnUnload(const std::shared_ptr<Index>& index) {
    return Status::Internal("index " + index->params().name + " cannot be unloaded");
  }
  // The stored parameters of an index, read without loading it.
  virtual Result<IndexParams> StoredParams(const std::string& name) {
    return Status::NotFound("no stored parameters for index " + name);
  }
};

// Loads, unloads and evictions since start, for /metrics.
struct LoadingStats {
  uint64_t loads = 0;
  uint64_t load_failures = 0;
  uint64_t evictions = 0;
  uint64_t eviction_failures = 0;
  double load_seconds = 0;  // sum over loads
  // Loads that took at most kLoadSecondsBounds[i] seconds (cumulative, as a
  // Prometheus histogram's buckets).
  static constexpr double kLoadSecondsBounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};
  uint64_t loads_within[std::size(kLoadSecondsBounds)] = {};
  size_t loaded_indexes = 0;
  size_t loaded_bytes = 0;  // the budget's sum (Index::budget_bytes)
  size_t memory_limit = 0;  // 0: none
};

// The registry: every index name the node serves, loaded or not.
//
// An index is loaded (in memory, with its log open) or unloaded (only its
// name is held; its snapshot and log are on disk, and in the bucket when
// there is one). Find loads an unloaded index on first use: one load per
// name at a time, later callers wait for it. With a memory limit, a
// background thread unloads the least recently used loaded indexes while
// their sum of Index::budget_bytes() is above the limit; it only unloads an
// index that nothing but the registry holds, so no operation is in flight on
// it and none can start (every operation reaches an index through Find,
// which copies the pointer under the registry's lock).
//
// Thread safety: every method may be called from any thread. The map is
// guarded by a shared mutex held only for lookups and changes, never across a
// load, an unload or a persistence call; creates, drops and recovers are
// serialised with each other by a second mutex.
class Registry {
 public:
  explicit Registry(ThreadPool* workers) : workers_(workers) {}
  ~Registry();

  // Set once, before the server takes requests; null means ephemeral.
  void SetPersistence(Persistence* persistence) {
    persistence_.store(persistence, std::memory_order_release);
  }
  // Where indexes with vectors "disk" make their (unnamed) vector files. Set
  // once, before the server takes requests.
  void SetVectorDirectory(std::string directory) { vector_directory_ = std::move(directory); }
  const std::string& vector_directory() const { return vector_directory_; }
  // The fraction of plain searches every index keeps for the recall
  // self-check (RecallMonitor); 0 (the default) keeps none. Set it before
  // indexes are created or registered.
  void SetRecallSampleRate(double rate) {
    recall_sample_rate_.store(rate, std::memory_order_relaxed);
  }
  // Starts the thread that unloads least recently used indexes while the
  // loaded ones hold more than `bytes` (0: never). Needs a persistence that
  // CanUnload(); call after SetPersistence. Stopped by StopBackground or the
  // destructor.
  void StartUnloading(size_t bytes);
  // Loads `names` one after another on a background thread, as loads that
  // are not uses: each stays least recently used, first for the unloading
  // thread to take. Stops early once the loaded indexes hold more than
  // `stop_above` bytes (0: loads them all). After start-up this finds
  // damage early, makes disk and bucket agree for every index, and warms
  // the first searches.
  void StartBackgroundLoading(std::vector<std::string> names, size_t stop_above);
  // Stops both background threads (waits for a load or unload under way).
  void StopBackground();
  // Unloads least recently used indexes until the loaded ones hold at most
  // `target` bytes or nothing more can be unloaded; returns how many it
  // unloaded. The unloading thread's step, public for tests and benches.
  size_t UnloadDownTo(size_t target);
  // Unloads one index now (false if it is not loaded, is in use, or its
  // unload failed).
  bool Unload(std::string_view name);

  // AlreadyExists "index already exists: NAME" (or "index failed to load:
  // ..." for a name whose stored copy did not load), or InvalidArgument.
  Result<std::shared_ptr<Index>> Create(const CreateSpec& spec);
  // Adds an index loaded from storage; AlreadyExists if the name is taken.
  Status Register(std::shared_ptr<Index> index);
  // Adds a stored index that is not loaded (Find loads it on first use);
  // AlreadyExists if the name is taken.
  Status RegisterUnloaded(std::string name);

  // An index whose stored copy did not load. It keeps its name: a create of
  // it is refused, its files are left alone, and a drop moves them to
  // quarantine instead of deleting them.
  struct FailedIndex {
    std::string name;
    std::string error;  // file and, for damage, the byte offset
  };
  void RegisterFailed(std::string name, const Status& error);
  // Forgets that `name` failed (its files were dealt with); false if it had
  // not.
  bool ClearFailure(std::string_view name);
  // Sorted by name.
  std::vector<FailedIndex> Failed() const;
  // The error of a failed index, or nullopt when `name` did not fail.
  std::optional<std::string> FailureOf(std::string_view name) const;

  // The index, loaded first if it is not: NotFound "not found" for an
  // unknown name, Unavailable "index failed to load: ..." for a failed one,
  // or the load's error (Unavailable while its store does not answer).
  Result<std::shared_ptr<Index>> Open(std::string_view name);
  // Open, with null for every error.
  std::shared_ptr<Index> Find(std::string_view name);
  // The index if it is loaded now; null otherwise. Never loads.
  std::shared_ptr<Index> FindLoaded(std::string_view name) const;
  // What an index is without loading it.
  struct Summary {
    bool loaded = false;
    std::shared_ptr<Index> index;  // when loaded
    std::optional<size_t> items;   // unloaded: its count when it was last loaded
  };
  std::optional<Summary> Describe(std::string_view name) const;
  // The stored parameters of an unloaded index (Persistence::StoredParams).
  Result<IndexParams> StoredParams(std::string_view name) const;
  bool Contains(std::string_view name) const;
  std::vector<std::string> Names() const;           // every index, loaded or not; sorted
  std::vector<std::shared_ptr<Index>> All() const;  // the loaded ones
  size_t count() const;                             // every index, loaded or not
  LoadingStats loading_stats() const;
  // NotFound "not found". A failed index is quarantined, not deleted.
  Status Drop(std::string_view name);
  // Removes an index without telling the persistence: a cluster replica's
  // drop, committed elsewhere. Returns the index removed (null if none).
  std::shared_ptr<Index> Forget(std::string_view name);
  // Puts `index` in the place of `old` (same name) at once, so that no
  // request sees the name missing; false if `old` is no longer registered.
  bool Replace(const std::shared_ptr<Index>& old, std::shared_ptr<Index> index);
  // Rebuilds an index that failed to load (OnRecover) and serves it.
  // NotFound for an unknown name; AlreadyExists for a loaded one.
  Result<Recovered> Recover(std::string_view name);

  Result<WriteResult> Add(const std::shared_ptr<Index>& index, std::span<const NewItem> items,
                          Durability durability = Durability::kDefault);
  Result<WriteResult> Remove(const std::shared_ptr<Index>& index, std::span<const std::string> ids,
                             Durability durability = Durability::kDefault);

  ThreadPool* workers() const { return workers_; }

  // While the persistence is still finding stored indexes (a bucket listed
  // after start-up), a name not registered yet may be one of them: Open of
  // an unknown name, Create, Drop and Recover wait for the end of it (up to
  // kDiscoveryWait, then Unavailable "... retry"). The wait is short: the
  // waiting request holds a worker thread, and a listing of a large bucket
  // takes long.
  void SetDiscovering(bool discovering);
  // Ok once discovery is over; Unavailable if it is not within the wait.
  Status WaitDiscovered() const;
  bool discovering() const { return discovering_.load(std::memory_order_acquire); }
  static constexpr std::chrono::seconds kDiscoveryWait{1};

 private:
  // A load or an unload under way; whoever finds it waits for it.
  struct Transition {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;  // guarded by mutex
    void Finish();
    void Wait();
  };
  struct Entry {
    std::shared_ptr<Index> index;            // null while unloaded
    std::shared_ptr<Transition> transition;  // set while a load or unload is under way
    size_t budget_bytes = 0;                 // counted in loaded_bytes_ while loaded
    std::optional<size_t> items;             // unloaded: the count when last loaded
    // steady_clock ticks of the last Find; relaxed atomics, so that a Find
    // under the shared lock may bump it.
    std::atomic<int64_t> last_used{0};
  };
  using EntryMap = std::map<std::string, Entry, std::less<>>;

  Persistence* persistence() const { return persistence_.load(std::memory_order_acquire); }
  // Registers `index` (of `bytes`) as loaded under `entry`; caller holds
  // mutex_.
  void SetLoadedLocked(Entry& entry, std::shared_ptr<Index> index, size_t bytes, bool use = true);
  // Takes the index out of `entry`; caller holds mutex_.
  std::shared_ptr<Index> TakeLoadedLocked(Entry& entry);
  // NotFound, or Unavailable for a failed index; caller holds mutex_.
  Status AbsentLocked(std::string_view name) const;
  // Open's slow path: loads `name` or waits for the load under way. A load
  // that is not a `use` leaves the index least recently used.
  Result<std::shared_ptr<Index>> Load(const std::string& name, bool use = true);
  // Unloads a diverged index (without a checkpoint) once no operation holds
  // it, so that the next load rebuilds it from snapshot and log; waits up
  // to 5 s, then Unavailable.
  Status UnloadDiverged(const std::string& name);
  // After a write: re-counts the index's bytes, and wakes the unloading
  // thread if the sum is over the limit.
  void Account(const std::shared_ptr<Index>& index);
  void WakeUnloadingIfOver();
  // Unloads `name` if it is loaded and nothing else holds it.
  bool UnloadIfIdle(const std::string& name);
  void RunUnloading();
  void RunBackgroundLoading(std::vector<std::string> names, size_t stop_above);
  static int64_t Now();

  ThreadPool* const workers_;
  std::atomic<Persistence*> persistence_{nullptr};
  std::string vector_directory_;
  std::atomic<double> recall_sample_rate_{0};
  std::mutex lifecycle_mutex_;  // serialises Create, Drop and Recover
  mutable std::shared_mutex mutex_;
  EntryMap indexes_;                                        // guarded by mutex_
  std::map<std::string, std::string, std::less<>> failed_;  // guarded by mutex_
  size_t loaded_count_ = 0;                                 // guarded by mutex_
  size_t loaded_bytes_ = 0;                                 // guarded by mutex_
  LoadingStats loading_;                                    // counters; guarded by mutex_

  mutable std::mutex discovery_mutex_;
  mutable std::condition_variable discovered_;
  std::atomic<bool> discovering_{false};  // written under discovery_mutex_

  std::mutex unloading_mutex_;
  std::condition_variable unloading_wake_;
  std::atomic<size_t> memory_limit_{0};  // 0: none
  bool stop_unloading_ = false;          // guarded by unloading_mutex_
  bool unloading_requested_ = false;     // guarded by unloading_mutex_
  std::thread unloading_thread_;
  std::atomic<bool> stop_background_loading_{false};
  std::thread background_loading_thread_;
};

}  // namespace vectord::service
