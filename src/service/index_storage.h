// IndexStorage: makes indexes durable on the local disk and brings them back
// at start-up. It implements the registry's Persistence.
//
// Layout under data_dir (docs/storage-layout.md):
//   _vectors/<name>.json   parameters; its presence is what makes an index exist
//   _vectors/<name>.hnsw   latest snapshot (docs/index-file-format.md), if any
//   _vectors/<name>.wal/   write-ahead log segments (docs/wal-format.md)
//   _quarantine/<name>.<ms>/  files of a failed index after a delete or recover
//   _staging/<name>/       a replacement copy before it is swapped in
//
// Create writes the log's first segment, then the .json (the commit point),
// each fsynced, before the index is visible. Drop deletes the .json first,
// then the rest. A checkpoint rotates the log, writes a snapshot tagged with
// the highest applied sequence, then deletes the segments it covers; it runs
// in the background when the index's replay estimate (Index::replay_cost(),
// the apply time of the records after its snapshot) passes the larger of
// `checkpoint_replay_seconds` and its last checkpoint's duration, or a log
// segment passes `checkpoint_bytes`, and for every index at shutdown.
// Recovery loads the snapshot and replays the log records after its tag.
//
// With an object store (a BucketMirror), the bucket holds a second copy that
// a new host rebuilds from: parameters are put there after the local create
// and deleted before the local drop, each log's records are shipped as they
// are written, and each checkpoint uploads its snapshot and deletes the
// segment objects it covers. At start-up the bucket is listed; at each
// index's first load, an index the disk lacks, or for which the bucket holds
// newer records, is rebuilt locally from it, and one the bucket lacks or
// holds older records of is checkpointed to it.
//
// Indexes are loaded on first use and may be unloaded (Persistence::OnLoad,
// OnUnload): an unloaded index has a current snapshot, locally and in the
// bucket, and no open log.
//
// Thread safety: the Persistence methods may be called from any thread.
// Checkpoints and drops are serialised by one mutex; a background thread
// runs checkpoints and, under the interval policy, another the periodic
// fsyncs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "service/bucket_mirror.h"
#include "service/index_registry.h"
#include "store/file_system.h"
#include "store/local_object_store.h"
#include "store/log_reader.h"
#include "store/open_log_files.h"

namespace vectord::service {

struct StorageOptions {
  std::string data_dir;
  // Where indexes with vectors "disk" make their unnamed vector files.
  std::string vector_directory;
  // fsync = "always": a write's log record is fsynced before it is
  // acknowledged. Otherwise ("interval") it is written to the OS at once and
  // fsynced within fsync_interval.
  bool fsync_always = true;
  std::chrono::milliseconds fsync_interval{100};
  // An index is checkpointed in the background when its replay estimate
  // passes max(checkpoint_replay_seconds, its last checkpoint's duration) —
  // which bounds what a restart replays — or when its current log segment
  // passes checkpoint_bytes (the cap on log disk use).
  uint64_t checkpoint_bytes = uint64_t{64} << 20;
  double checkpoint_replay_seconds = 10;
  // At most this many log segments open at once across every index; the
  // least recently written are closed while idle and reopened by their next
  // write (store/open_log_files.h), so descriptors do not grow per index.
  size_t max_open_log_files = 256;
  // How long a load on first use retries a bucket that does not answer
  // before the request gets 503 (the next use tries again).
  std::chrono::milliseconds load_retry_time{10000};
  // With an object store, Survey waits only until the bucket answers and
  // leaves the listing of it to StartBucketListing, so that start-up does
  // not grow with what the bucket holds.
  bool list_bucket_after_start = false;
};

struct StorageStats {
  uint64_t checkpoints = 0;
  uint64_t checkpoint_failures = 0;
  uint64_t snapshot_bytes = 0;
  double last_checkpoint_seconds = 0;
  double longest_checkpoint_seconds = 0;
  uint64_t replayed_records = 0;
  // Wall time the start-up spent replaying logs (every index's, in all).
  double replay_seconds = 0;
  // With an object store: log segment objects uploaded, their bytes, and
  // uploads that failed (each is retried).
  uint64_t segment_uploads = 0;
  uint64_t segment_upload_bytes = 0;
  uint64_t segment_upload_failures = 0;
  uint64_t snapshot_uploads = 0;
  // Log segments open now, and closes for the budget so far.
  uint64_t open_log_files = 0;
  uint64_t parked_log_files = 0;
};

class IndexStorage final : public Persistence {
 public:
  // Every file goes through `objects` and its FileSystem (log segments
  // included); `mirror` null: local disk only.
  IndexStorage(store::LocalObjectStore* objects, StorageOptions options,
               BucketMirror* mirror = nullptr);
  ~IndexStorage() override;

  Status OnCreate(Index& index) override;
  Status OnDrop(Index& index) override;
  // With an object store, also moves the bucket's copy to the bucket's
  // quarantine (first: Unavailable when the bucket cannot be reached).
  Result<std::string> OnQuarantine(const std::string& name) override;
  Result<Recovered> OnRecover(const std::string& name, ThreadPool* workers) override;
  void OnWrite(const std::shared_ptr<Index>& index) override;
  bool CanUnload() const override { return true; }
  // Reads the snapshot and replays the log after it. The first load of an
  // index after Survey also makes disk and bucket agree (downloading an
  // index only the bucket holds, or checkpointing to a bucket that is
  // behind), retrying a bucket that does not answer for
  // StorageOptions::load_retry_time.
  Result<std::shared_ptr<Index>> OnLoad(const std::string& name, ThreadPool* workers) override;
  // A checkpoint if the snapshot is not current (locally and in the bucket).
  Status OnUnload(const std::shared_ptr<Index>& index) override;
  Result<IndexParams> StoredParams(const std::string& name) override;

  struct LoadFailure {
    std::string name;
    Status error;  // names the file and, for damage, the byte offset
  };
  struct LoadReport {
    std::vector<std::string> names;  // every stored index, sorted
    size_t indexes = 0;              // registered unloaded (Survey)
    size_t loaded = 0;               // loaded (LoadAll)
    size_t failed = 0;
    // The indexes that did not load (also those whose params file is
    // missing while their snapshot or log holds data). Their files stay as
    // they are; nothing here deletes or overwrites them.
    std::vector<LoadFailure> failures;
  };
  // Start-up: registers every stored index with the registry, unloaded
  // (each loads on first use, OnLoad), without reading any index's data, so
  // that its time does not depend on how many indexes there are. Finishes
  // staged swaps cut short, removes leftovers of unfinished creates (a log
  // with no record and no snapshot) and of drops cut short, and registers
  // as failed an index whose params file is missing while its snapshot or
  // log holds data (its files stay as they are). With an object store it
  // first lists the bucket, for as long as `keep_trying` says (then it
  // registers nothing): an index only the bucket holds is registered too.
  LoadReport Survey(
      Registry& registry, const std::function<bool()>& keep_trying = [] { return true; });
  // With StorageOptions::list_bucket_after_start: lists the bucket on a
  // thread of its own (retrying while it does not answer, until Stop), and
  // then registers the indexes only it holds, removes what unfinished
  // creates and drops left in it, and calls `listed` with every index's
  // name. The registry is told to wait for it (Registry::SetDiscovering).
  // An index loaded before then lists its own keys (BucketMirror::ListOne).
  void StartBucketListing(Registry& registry, std::function<void(std::vector<std::string>)> listed);
  // Ends the listing (waiting for a listing request in flight); Stop does
  // it too.
  void StopBucketListing();
  // Survey, but loading every index (an index that fails to load is logged
  // with the reason — file and byte offset for log damage — registered as
  // failed and listed in the report).
  LoadReport LoadAll(
      Registry& registry, ThreadPool* workers,
      const std::function<bool()>& keep_trying = [] { return true; });

  // Starts / stops the background threads (checkpoints; interval fsyncs).
  void Start();
  void Stop();
  // Checkpoints one index now (if it has records since its last snapshot).
  Status Checkpoint(const std::shared_ptr<Index>& index);
  // Checkpoints every index with unsaved records: the shutdown path.
  Status CheckpointAll();

  StorageStats stats() const;
  // The replay estimate at which `index` is due for a checkpoint:
  // max(checkpoint_replay_seconds, its last checkpoint's duration), or
  // higher while a failed checkpoint waits for its retry.
  double ReplayBudgetSeconds(const Index& index) const;
  bool has_object_store() const { return mirror_ != nullptr; }

  static std::string ParamsKey(std::string_view name);
  static std::string SnapshotKey(std::string_view name);
  // The local path of an index's log directory.
  std::string LogDirectory(std::string_view name) const;

 private:
  // Checkpoint's work; may throw std::bad_alloc.
  Status WriteCheckpoint(const std::shared_ptr<Index>& index);
  // What Survey and LoadAll share: the cleanups, the bucket's listing, and
  // the names of the stored indexes (in the report); registers failed ones.
  LoadReport ListStored(Registry& registry, const std::function<bool()>& keep_trying);
  // The bucket half of ListStored: indexes only the bucket holds are
  // registered (and appended to `bucket_only`), leftovers removed, and the
  // listing of each local index kept for its first load. The entries of
  // local indexes whose first load had begun go to `loaded_meanwhile`.
  void ReconcileListing(Registry& registry, std::map<std::string, BucketIndex> surveyed,
                        std::vector<std::string>* bucket_only, LoadReport* report,
                        std::map<std::string, BucketIndex>* loaded_meanwhile);
  void RunBucketListing(Registry& registry,
                        const std::function<void(std::vector<std::string>)>& listed);
  void RunCheckpoints();
  // By its replay estimate or its current log segment's size.
  bool CheckpointDue(const Index& index) const;
  void RunIntervalSyncs();
  Result<std::shared_ptr<Index>> LoadOne(const std::string& name, ThreadPool* workers);
  // Start-up with an object store: makes disk and bucket agree on `name`.
  Result<std::shared_ptr<Index>> LoadAndReconcile(const std::string& name, ThreadPool* workers,
                                                  BucketIndex* listed,
                                                  const std::function<bool()>& keep_trying);
  void RemoveLocalFiles(const std::string& name);
  // Moves the local files of `name` into the quarantine folder `folder` (a
  // key; "" for a new one); the caller holds checkpoint_mutex_.
  Result<std::string> QuarantineLocked(const std::string& name, const std::string& folder = "");
  // Replacing an index's files safely (docs/storage-layout.md, "Staged
  // swaps"): the new copy is written whole to data_dir/_staging/<name>/ and
  // sealed with a manifest naming the quarantine folder; SwapInStaged then
  // moves each old file to the quarantine and the staged one into its
  // place, the params file last. A swap cut short by a crash is finished at
  // start-up (FinishStagedSwaps); an unsealed staging folder is removed.
  std::string NewQuarantineFolder(const std::string& name) const;  // a key
  Status SealStaged(store::LocalObjectStore& staged, const std::string& name,
                    const std::string& quarantine_folder);
  // The rebuilt index of a recover: its snapshot tagged `last`, an empty log
  // after it, its params file.
  Status StageRebuilt(const std::string& name, Index& index, uint64_t last,
                      const std::string& quarantine_folder);
  // With an object store: the bucket's copy of `name`, downloaded and loaded
  // in the staging folder (touching nothing local) and sealed if it loads
  // whole; the reason otherwise (the staging folder is removed).
  Status StageBucketCopy(const std::string& name, BucketIndex* listed, ThreadPool* workers,
                         const std::string& quarantine_folder);
  Status SwapInStaged(const std::string& name);
  Status FinishStagedSwaps();
  // Start-up with an object store, when the local copy failed to load with
  // `local_error`: stages the bucket's copy, and if it loads, quarantines
  // the local files and serves the bucket's copy. Otherwise the local files
  // stay as they are and the error names both failures.
  Result<std::shared_ptr<Index>> ReplaceFromBucket(const std::string& name,
                                                   const Status& local_error, BucketIndex* listed,
                                                   ThreadPool* workers,
                                                   const std::function<bool()>& keep_trying);
  // OnRecover with an object store, for the bucket's half: after the local
  // rebuild, the bucket's (damaged) copy goes to its quarantine and the
  // rebuilt snapshot and parameters replace it.
  Status ReplaceBucketCopy(const std::string& name, const std::string& params_json,
                           const std::string& quarantine_leaf);
  std::string StagingRoot(const std::string& name) const;
  // A bucket failure as the service reports it: Unavailable, naming the store.
  Status BucketError(const Status& status) const;
  Status RemoveTree(const std::string& path);
  // What a replay read: records applied (first..last), the reader (for where
  // a writer continues), and, when told to stop at damage, the damage.
  struct Replay {
    uint64_t records = 0, first = 0, last = 0;
    std::unique_ptr<store::LogReader> reader;
    Status damage;
  };
  // Replays the log records after `tag` into `index`, skipping cancelled
  // ones. Damage is an error, or with `stop_at_damage` the end of the replay.
  Result<Replay> ReplayLog(Index& index, const std::string& name, uint64_t tag, bool stop_at_damage,
                           ThreadPool* workers);
  // Whether files without a params file hold anything a client was promised:
  // a snapshot, or a log segment with a record in it.
  bool HoldsData(const std::string& name);
  Status RemoveLogDirectory(const std::string& name);

  store::LocalObjectStore* const objects_;
  store::FileSystem* const fs_;  // objects_'s
  const StorageOptions options_;
  BucketMirror* const mirror_;
  // Shared with every log writer this storage opens (which may outlive it).
  const std::shared_ptr<store::OpenLogFiles> open_log_files_;

  std::mutex checkpoint_mutex_;  // one checkpoint or drop at a time

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::weak_ptr<Index>> known_;  // guarded by mutex_
  std::map<std::string, uint64_t> snapshot_sequence_;  // guarded by mutex_
  // The tag of the snapshot in the bucket, when it is known to be current.
  std::map<std::string, uint64_t> bucket_sequence_;               // guarded by mutex_
  std::map<std::string, std::shared_ptr<Index>> checkpoint_due_;  // guarded by mutex_
  // Indexes not loaded since Survey, with what the bucket listed for each
  // (nullopt: nothing): their first load reconciles disk and bucket.
  std::map<std::string, std::optional<BucketIndex>> unreconciled_;  // guarded by mutex_
  // Local indexes not loaded yet whose bucket listing has not come
  // (list_bucket_after_start): their first load lists their keys itself.
  std::set<std::string> unlisted_;  // guarded by mutex_
  // Whether the bucket has been listed since start-up (and its leftovers
  // removed): from then on a name not registered has no objects there,
  // except these, whose drop, create or quarantine failed half-way.
  bool bucket_listed_ = false;            // guarded by mutex_
  std::set<std::string> bucket_unclean_;  // guarded by mutex_
  std::thread listing_thread_;
  std::atomic<bool> stop_listing_{false};
  // LoadAll's keep_trying while it runs; null otherwise.
  std::function<bool()> load_keep_trying_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  StorageStats stats_;                      // guarded by mutex_
  std::thread checkpoint_thread_;
  // Under the interval policy: the periodic fsyncs, on their own thread so
  // that a long checkpoint (or snapshot upload) cannot stretch the interval.
  std::thread sync_thread_;
};

}  // namespace vectord::service
