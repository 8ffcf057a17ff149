#include "service/index_storage.h"

#include <algorithm>
#include <new>
#include <set>
#include <thread>

#include "common/log.h"
#include "service/index_name.h"
#include "service/log_records.h"
#include "service/params_file.h"
#include "service/storage_keys.h"
#include "store/log_format.h"
#include "store/log_reader.h"

namespace vectord::service {
namespace {

// Counts what passes through to the store's writer.
class CountingSink final : public ByteSink {
 public:
  explicit CountingSink(ByteSink& inner) : inner_(inner) {}
  Status Write(const void* data, size_t size) override {
    bytes_ += size;
    return inner_.Write(data, size);
  }
  uint64_t bytes() const { return bytes_; }

 private:
  ByteSink& inner_;
  uint64_t bytes_ = 0;
};

// Runs `attempt` until it succeeds, fails with something other than
// Unavailable, or `keep_trying` says stop; pauses 1 s, doubling to 30 s, and
// logs each failure. For start-up work against a bucket that may blink.
Status RetryWhileUnavailable(std::string_view event, const std::string& index,
                             const std::function<Status()>& attempt,
                             const std::function<bool()>& keep_trying) {
  auto pause = std::chrono::milliseconds(1000);
  while (true) {
    Status status = attempt();
    if (status.ok() || status.code() != StatusCode::kUnavailable) return status;
    LogError(event,
             {{"index", index}, {"error", status.ToString()}, {"retry_in_ms", pause.count()}});
    const auto until = std::chrono::steady_clock::now() + pause;
    while (std::chrono::steady_clock::now() < until) {
      if (!keep_trying()) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pause = std::min(pause * 2, std::chrono::milliseconds(30000));
  }
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string IndexStorage::ParamsKey(std::string_view name) { return storage_keys::Params(name); }
std::string IndexStorage::SnapshotKey(std::string_view name) {
  return storage_keys::Snapshot(name);
}
std::string IndexStorage::LogDirectory(std::string_view name) const {
  return objects_->PathOf(storage_keys::LogDirectory(name));
}

IndexStorage::IndexStorage(store::LocalObjectStore* objects, StorageOptions options,
                           BucketMirror* mirror)
    : objects_(objects),
      fs_(objects->file_system()),
      options_(std::move(options)),
      mirror_(mirror),
      open_log_files_(std::make_shared<store::OpenLogFiles>(options_.max_open_log_files)) {}

Status IndexStorage::BucketError(const Status& status) const {
  return Status::Unavailable("object store " + mirror_->Describe() + ": " + status.message());
}

IndexStorage::~IndexStorage() { Stop(); }

Status IndexStorage::OnCreate(Index& index) {
  const IndexParams& p = index.params();
  // Clear anything a crashed create of the same name left behind.
  VECTORD_RETURN_IF_ERROR(RemoveLogDirectory(p.name));
  VECTORD_RETURN_IF_ERROR(objects_->Delete(SnapshotKey(p.name)));
  VECTORD_ASSIGN_OR_RETURN(
      std::unique_ptr<store::LogWriter> log,
      store::LogWriter::Open(fs_, LogDirectory(p.name), p.dimension, 1, nullptr, open_log_files_));
  const std::string params = ParamsJson(p);
  // The local commit point. A publish that failed late (its directory fsync)
  // has already renamed the file into place: take it back, so that a create
  // reported as failed does not come back at the next start-up.
  if (Status s = objects_->Put(ParamsKey(p.name), params); !s.ok()) {
    log.reset();
    (void)objects_->Delete(ParamsKey(p.name));
    (void)RemoveLogDirectory(p.name);
    return s;
  }
  if (mirror_ != nullptr) {
    // Clear what an unfinished drop of the same name left in the bucket (its
    // segment keys would collide with this index's), then commit there too.
    // A name whose parameters are in the bucket is an index that failed to
    // load at start-up: creating it anew would destroy the bucket's copy.
    // Once the bucket is listed, a name not registered has nothing there
    // unless a drop or create of it failed half-way (bucket_unclean_): the
    // checks (four requests) are skipped, and a create costs one PUT.
    bool known_clean = false;
    {
      std::lock_guard lock(mutex_);
      known_clean = bucket_listed_ && bucket_unclean_.count(p.name) == 0;
    }
    Result<bool> exists = false;
    if (!known_clean) exists = mirror_->HasParams(p.name);
    Status put = exists.status();
    if (exists.ok() && *exists) {
      log.reset();
      (void)objects_->Delete(ParamsKey(p.name));
      (void)RemoveLogDirectory(p.name);
      return Status::AlreadyExists("index already exists: " + p.name +
                                   " (in the object store; it did not load at start-up, see the "
                                   "log)");
    }
    if (put.ok() && !known_clean) put = mirror_->DeleteIndex(p.name);
    if (put.ok()) put = mirror_->PutParams(p.name, params);
    {
      // A failed put may have landed (a reply lost): the next create of the
      // name checks.
      std::lock_guard lock(mutex_);
      if (put.ok()) {
        bucket_unclean_.erase(p.name);
      } else {
        bucket_unclean_.insert(p.name);
      }
    }
    if (!put.ok()) {
      log.reset();
      (void)objects_->Delete(ParamsKey(p.name));
      (void)RemoveLogDirectory(p.name);
      return BucketError(put);
    }
    log->AttachShipper(mirror_->MakeShipper(p.name, p.dimension, 0));
  }
  index.AttachLog(std::move(log), options_.fsync_always, mirror_ != nullptr);
  std::lock_guard lock(mutex_);
  known_[p.name] = std::weak_ptr<Index>();  // filled in by OnWrite / LoadAll
  snapshot_sequence_[p.name] = 0;
  bucket_sequence_[p.name] = 0;
  return Status::Ok();
}

Status IndexStorage::OnDrop(Index& index) {
  const std::string name = index.params().name;
  std::lock_guard checkpoint(checkpoint_mutex_);
  // The bucket first: a drop that fails there changes nothing.
  if (mirror_ != nullptr) {
    if (Status s = mirror_->DeleteParams(name); !s.ok()) return BucketError(s);
  }
  // The local commit point: the params file renamed, not deleted, so that a
  // start-up after a crash here tells a drop cut short (finish it) from a
  // params file lost (keep the data, report the index as failed).
  VECTORD_RETURN_IF_ERROR(objects_->Rename(ParamsKey(name), storage_keys::DroppingParams(name)));
  // Committed. From here nothing of this index may be written: a checkpoint
  // waiting for checkpoint_mutex_ sees dropped(), and the log refuses writes
  // and stops its shipper after the upload in flight, which would otherwise
  // land in the prefix a re-create of the name uses.
  index.MarkDropped();
  if (store::LogWriter* log = index.log()) {
    log->Close(Status::NotFound("index " + name + " was dropped"));
  }
  if (mirror_ != nullptr) {
    // What is left in the bucket is removed by the next create of the name
    // or the next start-up.
    if (Status s = mirror_->DeleteData(name); !s.ok()) {
      LogWarn("bucket_drop_cleanup_failed", {{"index", name}, {"error", s.ToString()}});
      std::lock_guard lock(mutex_);
      bucket_unclean_.insert(name);
    }
  }
  Status s = objects_->Delete(SnapshotKey(name));
  if (s.ok()) s = RemoveLogDirectory(name);
  if (s.ok()) s = objects_->Delete(storage_keys::DroppingParams(name));
  if (!s.ok()) LogWarn("drop_cleanup_failed", {{"index", name}, {"error", s.ToString()}});
  std::lock_guard lock(mutex_);
  known_.erase(name);
  snapshot_sequence_.erase(name);
  bucket_sequence_.erase(name);
  checkpoint_due_.erase(name);
  return Status::Ok();
}

Result<std::string> IndexStorage::OnQuarantine(const std::string& name) {
  std::lock_guard checkpoint(checkpoint_mutex_);
  const std::string folder = NewQuarantineFolder(name);
  if (mirror_ != nullptr) {
    // The bucket's copy did not load either (or the index would be served
    // from it): it goes to the bucket's quarantine first, so that the name
    // is free everywhere; if the bucket cannot be reached, nothing changes.
    if (Status s = mirror_->QuarantineIndex(name, folder); !s.ok()) {
      std::lock_guard lock(mutex_);
      bucket_unclean_.insert(name);  // it may have stopped half-way
      return BucketError(s);
    }
  }
  return QuarantineLocked(name, folder);
}

Result<std::string> IndexStorage::QuarantineLocked(const std::string& name,
                                                   const std::string& folder) {
  const std::string target = objects_->PathOf(folder.empty() ? NewQuarantineFolder(name) : folder);
  VECTORD_RETURN_IF_ERROR(fs_->CreateDirectories(target));
  // The params file goes first: a crash half-way leaves data without a
  // params file, which a restart reports as a failed index, never a params
  // file with part of its data (which could load as a smaller index).
  const std::string keys[] = {ParamsKey(name), storage_keys::DroppingParams(name),
                              SnapshotKey(name), storage_keys::LogDirectory(name)};
  for (const std::string& key : keys) {
    const std::string from = objects_->PathOf(key);
    if (!fs_->Exists(from)) continue;
    VECTORD_RETURN_IF_ERROR(fs_->RenameFile(from, target + "/" + key.substr(key.rfind('/') + 1)));
  }
  VECTORD_RETURN_IF_ERROR(fs_->SyncDirectory(target));
  VECTORD_RETURN_IF_ERROR(fs_->SyncDirectory(objects_->PathOf(storage_keys::kDirectory)));
  LogWarn("index_quarantined", {{"index", name}, {"folder", target}});
  std::lock_guard lock(mutex_);
  known_.erase(name);
  snapshot_sequence_.erase(name);
  bucket_sequence_.erase(name);
  checkpoint_due_.erase(name);
  return target;
}

void IndexStorage::RemoveLocalFiles(const std::string& name) {
  (void)objects_->Delete(ParamsKey(name));
  (void)objects_->Delete(storage_keys::DroppingParams(name));
  (void)objects_->Delete(SnapshotKey(name));
  (void)RemoveLogDirectory(name);
}

bool IndexStorage::HoldsData(const std::string& name) {
  if (objects_->Exists(SnapshotKey(name))) return true;
  const std::string dir = LogDirectory(name);
  auto segments = fs_->ListDirectory(dir);
  if (!segments.ok()) return fs_->Exists(dir);  // unreadable: keep it
  for (const std::string& segment : *segments) {
    auto file = fs_->OpenSequential(dir + "/" + segment);
    if (!file.ok() || (*file)->size() > store::log_format::kSegmentHeaderSize) return true;
  }
  return false;
}

Status IndexStorage::RemoveLogDirectory(const std::string& name) {
  std::string dir = LogDirectory(name);
  if (!fs_->Exists(dir)) return Status::Ok();
  VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs_->ListDirectory(dir));
  for (const std::string& file : names) VECTORD_RETURN_IF_ERROR(fs_->RemoveFile(dir + "/" + file));
  return fs_->RemoveDirectory(dir);
}

double IndexStorage::ReplayBudgetSeconds(const Index& index) const {
  const ReplayCost& cost = index.replay_cost();
  return std::max({options_.checkpoint_replay_seconds, cost.last_checkpoint_seconds(),
                   cost.retry_at_seconds()});
}

bool IndexStorage::CheckpointDue(const Index& index) const {
  store::LogWriter* log = index.log();
  if (log == nullptr) return false;
  // A snapshot is never taken more often than it costs: the budget is at
  // least the last checkpoint's duration, so writes spend at most about half
  // their time in checkpoints.
  return index.replay_cost().seconds() >= ReplayBudgetSeconds(index) ||
         log->current_segment_bytes() >= options_.checkpoint_bytes;
}

void IndexStorage::OnWrite(const std::shared_ptr<Index>& index) {
  const bool due = CheckpointDue(*index);
  std::lock_guard lock(mutex_);
  known_[index->params().name] = index;
  if (due) {
    checkpoint_due_[index->params().name] = index;
    wake_.notify_all();
  }
}

Status IndexStorage::Checkpoint(const std::shared_ptr<Index>& index) {
  // Writing a snapshot allocates (buffers, the id order). Out of memory, it
  // fails as on a full disk: the previous snapshot and the log still hold
  // everything, and the temporary file is removed at the next start-up.
  try {
    return WriteCheckpoint(index);
  } catch (const std::bad_alloc&) {
    return Status::NoSpace("out of memory writing a checkpoint of index " + index->params().name);
  }
}

Status IndexStorage::WriteCheckpoint(const std::shared_ptr<Index>& index) {
  std::lock_guard checkpoint(checkpoint_mutex_);
  if (index->dropped() || index->log() == nullptr) return Status::Ok();
  const std::string& name = index->params().name;
  if (index->diverged()) {
    // Its memory may hold part of a cancelled write; the log is the truth.
    return Status::Unavailable("index " + name +
                               " is not checkpointed: a write failed part way in memory, and the "
                               "index is reloaded from its snapshot and log at its next use");
  }
  bool local_current = false, bucket_current = true;
  uint64_t tag = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = snapshot_sequence_.find(name);
    local_current = it != snapshot_sequence_.end() && it->second == index->applied_sequence();
    if (local_current) tag = it->second;
    if (mirror_ != nullptr) {
      auto b = bucket_sequence_.find(name);
      bucket_current = local_current && b != bucket_sequence_.end() && b->second == tag;
    }
  }
  if (local_current && bucket_current) return Status::Ok();  // nothing new since the last one
  auto started = std::chrono::steady_clock::now();
  uint64_t bytes = 0;
  if (!local_current) {
    VECTORD_RETURN_IF_ERROR(index->log()->Rotate().status());
    // The replay estimate up to here is covered once the snapshot is
    // published; writes applied from now on count anew (those that land at
    // or below `tag` are counted twice: the estimate errs high).
    const double covered = index->replay_cost().seconds();
    // Every record up to `tag` has been applied, so the snapshot holds it;
    // records after it are replayed from the log.
    tag = index->applied_sequence();
    // The snapshot is published (written, fsynced, renamed, its directory
    // fsynced) before the segments it covers go: if any step fails, the
    // previous snapshot and the whole log are still there to recover from.
    VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::ObjectWriter> writer,
                             objects_->Create(SnapshotKey(name)));
    CountingSink counter(*writer);
    VECTORD_RETURN_IF_ERROR(index->engine().Save(counter, tag));
    // A write that failed part way while Save read the engine may be in
    // it: once the apply under way has finished, diverged() says so.
    if (index->DivergedOnceApplied()) {
      return Status::Unavailable("index " + name +
                                 " is not checkpointed: a write failed part way in memory");
    }
    VECTORD_RETURN_IF_ERROR(writer->Commit());
    index->replay_cost().Discount(covered);
    VECTORD_RETURN_IF_ERROR(index->log()->DropSegmentsThrough(tag));
    bytes = counter.bytes();
    std::lock_guard lock(mutex_);
    snapshot_sequence_[name] = tag;
  }
  if (mirror_ != nullptr && (tag > 0 || objects_->Exists(SnapshotKey(name)))) {
    // The snapshot first, then the segments it covers: a crash between
    // leaves segments that replay skips and the next checkpoint deletes.
    if (Status s = mirror_->UploadSnapshot(name); !s.ok()) return BucketError(s);
    if (Status s = mirror_->DeleteSegmentsThrough(name, tag); !s.ok()) {
      return BucketError(s);
    }
    std::lock_guard lock(mutex_);
    bucket_sequence_[name] = tag;
    ++stats_.snapshot_uploads;
  }
  const double seconds = SecondsSince(started);
  index->replay_cost().CheckpointSucceeded(seconds);
  {
    std::lock_guard lock(mutex_);
    ++stats_.checkpoints;
    stats_.snapshot_bytes += bytes;
    stats_.last_checkpoint_seconds = seconds;
    stats_.longest_checkpoint_seconds = std::max(stats_.longest_checkpoint_seconds, seconds);
  }
  LogInfo("checkpoint", {{"index", name},
                         {"items", index->size()},
                         {"sequence", tag},
                         {"bytes", bytes},
                         {"uploaded", mirror_ != nullptr},
                         {"seconds", seconds}});
  return Status::Ok();
}

Status IndexStorage::CheckpointAll() {
  std::vector<std::shared_ptr<Index>> indexes;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, weak] : known_) {
      if (auto index = weak.lock()) indexes.push_back(index);
    }
  }
  Status first;
  for (const auto& index : indexes) {
    Status s = Checkpoint(index);
    if (!s.ok()) {
      LogError("checkpoint_failed", {{"index", index->params().name}, {"error", s.ToString()}});
      std::lock_guard lock(mutex_);
      ++stats_.checkpoint_failures;
      if (first.ok()) first = s;
    }
  }
  return first;
}

void IndexStorage::Start() {
  std::lock_guard lock(mutex_);
  stopping_ = false;
  // An index whose start-up replay took longer than its budget is
  // checkpointed at once, not at its next write.
  for (const auto& [name, weak] : known_) {
    if (auto index = weak.lock(); index && CheckpointDue(*index)) checkpoint_due_[name] = index;
  }
  if (!checkpoint_thread_.joinable())
    checkpoint_thread_ = std::thread([this] { RunCheckpoints(); });
  if (!options_.fsync_always && !sync_thread_.joinable()) {
    sync_thread_ = std::thread([this] { RunIntervalSyncs(); });
  }
}

void IndexStorage::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  StopBucketListing();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  if (sync_thread_.joinable()) sync_thread_.join();
}

void IndexStorage::RunCheckpoints() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !checkpoint_due_.empty(); });
    if (stopping_) return;
    std::map<std::string, std::shared_ptr<Index>> due;
    due.swap(checkpoint_due_);
    lock.unlock();
    for (const auto& [name, index] : due) {
      // Writes during the last checkpoint may have asked again for one that
      // is no longer due.
      if (!CheckpointDue(*index)) continue;
      Status s = Checkpoint(index);
      if (!s.ok()) {
        index->replay_cost().CheckpointFailed(ReplayBudgetSeconds(*index));
        LogWarn("checkpoint_failed", {{"index", name}, {"error", s.ToString()}});
        std::lock_guard relock(mutex_);
        ++stats_.checkpoint_failures;
      }
    }
    lock.lock();
  }
}

void IndexStorage::RunIntervalSyncs() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, options_.fsync_interval, [this] { return stopping_; });
    if (stopping_) return;
    std::vector<std::shared_ptr<Index>> live;
    for (const auto& [name, weak] : known_) {
      if (auto index = weak.lock()) live.push_back(index);
    }
    lock.unlock();
    // The interval policy's promise: what was written is fsynced within the
    // interval.
    for (const auto& index : live) {
      if (index->log() == nullptr) continue;
      Status s = index->log()->SyncAll();
      if (!s.ok())
        LogError("log_sync_failed", {{"index", index->params().name}, {"error", s.ToString()}});
    }
    lock.lock();
  }
}

Result<std::shared_ptr<Index>> IndexStorage::LoadOne(const std::string& name, ThreadPool* workers) {
  VECTORD_ASSIGN_OR_RETURN(const std::string text, objects_->Get(ParamsKey(name)));
  auto params = ParseParamsJson(text);
  if (!params.ok()) return params.status().WithContext(ParamsKey(name));
  if (params->name != name) return Status::Corruption(ParamsKey(name) + ": names another index");

  std::unique_ptr<engine::HnswIndex> engine;
  uint64_t tag = 0;
  auto reader = objects_->Open(SnapshotKey(name));
  if (reader.ok()) {
    auto loaded = engine::HnswIndex::Load(
        **reader, &tag, EngineOptions(*params, options_.vector_directory).vectors);
    if (!loaded.ok()) return loaded.status().WithContext(SnapshotKey(name));
    if ((*reader)->position() != (*reader)->size()) {
      return Status::Corruption(SnapshotKey(name) + ": unexpected bytes after the end marker");
    }
    const engine::IndexOptions& o = (*loaded)->options();
    if (o.dimension != params->dimension || o.metric != params->metric || o.m != params->m) {
      return Status::Corruption(SnapshotKey(name) + ": does not match its params file");
    }
    engine = std::move(loaded).value();
  } else if (reader.status().code() == StatusCode::kNotFound) {
    // Segments are deleted only once a snapshot covers them: a log that
    // starts above sequence 1 without one means the snapshot is lost, and
    // loading the log alone would serve a smaller index as if whole.
    if (auto segments = fs_->ListDirectory(LogDirectory(name)); segments.ok()) {
      for (const std::string& segment : *segments) {
        const uint64_t first = std::strtoull(segment.c_str(), nullptr, 10);
        if (first > 1) {
          return Status::Corruption(SnapshotKey(name) + ": missing, while the log starts at " +
                                    segment + " (the records before it were only in it)");
        }
        break;  // sorted: the first segment decides
      }
    }
    VECTORD_ASSIGN_OR_RETURN(
        engine, engine::HnswIndex::Create(EngineOptions(*params, options_.vector_directory)));
  } else {
    return reader.status();
  }
  const uint32_t dimension = params->dimension;
  auto index = std::make_shared<Index>(std::move(params).value(), std::move(engine));

  const auto replay_started = std::chrono::steady_clock::now();
  VECTORD_ASSIGN_OR_RETURN(Replay replay, ReplayLog(*index, name, tag, false, workers));
  const uint64_t replayed = replay.records;
  // The replay estimate survives the restart: what this replay took.
  const double replay_seconds = replayed == 0 ? 0 : SecondsSince(replay_started);
  index->replay_cost().Reset(replay_seconds);
  if (replayed != 0) {
    LogInfo("wal_replayed", {{"index", name}, {"records", replayed}, {"seconds", replay_seconds}});
  }
  std::unique_ptr<store::LogReader>& log = replay.reader;
  if (log->torn()) LogWarn("wal_torn_tail", {{"index", name}, {"detail", log->torn_description()}});
  const uint64_t last = std::max(tag, log->last_sequence());
  std::optional<store::LogWriter::Tail> tail = log->tail();
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::LogWriter> writer,
                           store::LogWriter::Open(fs_, LogDirectory(name), dimension, last + 1,
                                                  tail ? &*tail : nullptr, open_log_files_));
  if (mirror_ != nullptr) writer->AttachShipper(mirror_->MakeShipper(name, dimension, last));
  index->AttachLog(std::move(writer), options_.fsync_always, mirror_ != nullptr);
  index->SetAppliedSequence(last);
  std::lock_guard lock(mutex_);
  known_[name] = index;
  // The snapshot is current when nothing was replayed after it; without a
  // snapshot file, only an empty log is.
  const bool has_snapshot = reader.ok();
  snapshot_sequence_[name] = replayed == 0 && (has_snapshot || last == 0) ? last : tag;
  stats_.replayed_records += replayed;
  stats_.replay_seconds += replay_seconds;
  return index;
}

IndexStorage::LoadReport IndexStorage::Survey(Registry& registry,
                                              const std::function<bool()>& keep_trying) {
  LoadReport report = ListStored(registry, keep_trying);
  for (const std::string& name : report.names) {
    if (Status s = registry.RegisterUnloaded(name); !s.ok()) {
      ++report.failed;
      LogError("rehydrate_skip", {{"index", name}, {"error", s.ToString()}});
      continue;
    }
    ++report.indexes;
  }
  return report;
}

IndexStorage::LoadReport IndexStorage::ListStored(Registry& registry,
                                                  const std::function<bool()>& keep_trying) {
  LoadReport report;
  // Swaps of staged copies (recover, replacement from the bucket) that a
  // crash cut short.
  if (Status s = FinishStagedSwaps(); !s.ok()) {
    LogError("staged_swap_failed", {{"error", s.ToString()}});
  }
  std::vector<std::string> bucket_only;
  const bool list_later = mirror_ != nullptr && options_.list_bucket_after_start;
  if (mirror_ != nullptr) {
    // Listing a bucket of many indexes takes long: with list_later only its
    // answering is waited for here (StartBucketListing lists it).
    Result<std::map<std::string, BucketIndex>> surveyed = std::map<std::string, BucketIndex>();
    if (list_later) {
      if (Status answering = mirror_->WaitAnswering(keep_trying); !answering.ok()) {
        surveyed = answering;
      }
    } else {
      surveyed = mirror_->Survey(keep_trying);
    }
    if (!surveyed.ok()) {
      LogError("rehydrate_abandoned",
               {{"store", mirror_->Describe()}, {"error", surveyed.status().ToString()}});
      ++report.failed;
      return report;
    }
    ReconcileListing(registry, std::move(*surveyed), &bucket_only, &report, nullptr);
    if (!list_later) {
      std::lock_guard lock(mutex_);
      bucket_listed_ = true;
    }
  }
  // One read of the directory, not of every log directory in it: start-up
  // must not grow with the number of indexes.
  const std::string directory = objects_->PathOf(storage_keys::kDirectory);
  Result<std::vector<std::string>> entries = std::vector<std::string>();
  if (fs_->Exists(directory)) entries = fs_->ListDirectory(directory);
  if (!entries.ok()) {
    LogError("rehydrate_list_failed",
             {{"store", objects_->Describe()}, {"error", entries.status().ToString()}});
    ++report.failed;
    return report;
  }
  std::set<std::string> with_params, with_other, dropping;
  for (const std::string& entry : *entries) {
    const std::string_view file = entry;
    auto strip = [&](std::string_view suffix) -> std::optional<std::string> {
      if (file.size() > suffix.size() && file.substr(file.size() - suffix.size()) == suffix) {
        return std::string(file.substr(0, file.size() - suffix.size()));
      }
      return std::nullopt;
    };
    if (auto n = strip(".json")) with_params.insert(*n);
    if (auto n = strip(".hnsw")) with_other.insert(*n);
    if (auto n = strip(".json.dropping")) dropping.insert(*n);
    if (auto n = strip(".wal")) with_other.insert(*n);  // a log directory
  }
  // A drop cut short after its commit point: finish it.
  for (const std::string& name : dropping) {
    if (with_params.count(name) != 0 || !ValidateIndexName(name).ok()) continue;
    LogInfo("finishing_drop", {{"index", name}});
    (void)objects_->Delete(SnapshotKey(name));
    if (RemoveLogDirectory(name).ok()) (void)objects_->Delete(storage_keys::DroppingParams(name));
  }
  // Without a params file: a create that never reached its commit point
  // (a log with no record, no snapshot) holds nothing anyone was promised and
  // is removed; anything more is an index whose params file was lost, kept
  // as it is and reported as failed.
  for (const std::string& name : with_other) {
    if (with_params.count(name) != 0 || dropping.count(name) != 0 ||
        !ValidateIndexName(name).ok()) {
      continue;
    }
    if (HoldsData(name)) {
      Status missing =
          Status::Corruption(ParamsKey(name) + ": missing (the snapshot and log are kept)");
      LogError("rehydrate_skip", {{"index", name}, {"error", missing.ToString()}});
      ++report.failed;
      registry.RegisterFailed(name, missing);
      report.failures.push_back({name, std::move(missing)});
      continue;
    }
    LogInfo("removing_leftovers", {{"index", name}});
    (void)objects_->Delete(SnapshotKey(name));
    (void)RemoveLogDirectory(name);
  }
  for (const std::string& name : with_params) {
    if (!ValidateIndexName(name).ok()) continue;
    if (mirror_ != nullptr) {
      // The first load makes disk and bucket agree (LoadAndReconcile); an
      // index the bucket does not list gets no BucketIndex.
      std::lock_guard lock(mutex_);
      if (list_later) {
        unlisted_.insert(name);
      } else {
        unreconciled_.try_emplace(name);
      }
    }
    report.names.push_back(name);
  }
  report.names.insert(report.names.end(), bucket_only.begin(), bucket_only.end());
  if (list_later) registry.SetDiscovering(true);
  std::sort(report.names.begin(), report.names.end());
  return report;
}

IndexStorage::LoadReport IndexStorage::LoadAll(Registry& registry, ThreadPool* workers,
                                               const std::function<bool()>& keep_trying) {
  LoadReport report = ListStored(registry, keep_trying);
  {
    std::lock_guard lock(mutex_);
    load_keep_trying_ = keep_trying;
  }
  for (const std::string& name : report.names) {
    auto started = std::chrono::steady_clock::now();
    auto index = OnLoad(name, workers);
    if (!index.ok()) {
      ++report.failed;
      LogError("rehydrate_skip", {{"index", name}, {"error", index.status().ToString()}});
      registry.RegisterFailed(name, index.status());
      report.failures.push_back({name, index.status()});
      continue;
    }
    size_t items = (*index)->size();
    Status s = registry.Register(std::move(index).value());
    if (!s.ok()) {
      ++report.failed;
      LogError("rehydrate_skip", {{"index", name}, {"error", s.ToString()}});
      continue;
    }
    ++report.loaded;
    LogInfo("rehydrated", {{"index", name}, {"items", items}, {"seconds", SecondsSince(started)}});
  }
  std::lock_guard lock(mutex_);
  load_keep_trying_ = nullptr;
  return report;
}

void IndexStorage::ReconcileListing(Registry& registry, std::map<std::string, BucketIndex> surveyed,
                                    std::vector<std::string>* bucket_only, LoadReport* report,
                                    std::map<std::string, BucketIndex>* loaded_meanwhile) {
  for (auto& [name, listed] : surveyed) {
    const bool local = objects_->Exists(ParamsKey(name));
    if (!local && registry.Contains(name)) continue;  // its own since
    if (!local && registry.FailureOf(name)) {
      // Listed after start-up, a name whose local data lacks its params
      // file was registered as failed by the local survey. With a copy in
      // the bucket it is served from there, as when the listing came first.
      if (!listed.has_params || !registry.ClearFailure(name)) continue;
    }
    if (listed.has_params && !local) {
      // A new host, or a disk that lost the index: the bucket has it, and
      // its first load downloads it. Local files without a params file that
      // hold data are kept aside, not overwritten.
      if (HoldsData(name)) {
        std::lock_guard checkpoint(checkpoint_mutex_);
        if (auto folder = QuarantineLocked(name); !folder.ok()) {
          LogError("quarantine_failed", {{"index", name}, {"error", folder.status().ToString()}});
          ++report->failed;
          registry.RegisterFailed(name, folder.status());
          report->failures.push_back({name, folder.status()});
          continue;
        }
      }
      bucket_only->push_back(name);
    } else if (!listed.has_params && !local) {
      // What a create or drop cut short left in the bucket.
      LogInfo("removing_bucket_leftovers", {{"index", name}});
      if (Status s = mirror_->DeleteIndex(name); !s.ok()) {
        LogWarn("bucket_cleanup_failed", {{"index", name}, {"error", s.ToString()}});
        std::lock_guard lock(mutex_);
        bucket_unclean_.insert(name);
      }
      continue;
    } else if (options_.list_bucket_after_start) {
      // A local index: its listing is kept for its first load, unless that
      // load came first and listed the index itself.
      std::lock_guard lock(mutex_);
      if (unlisted_.erase(name) == 0) {
        if (loaded_meanwhile != nullptr) (*loaded_meanwhile)[name] = std::move(listed);
        continue;
      }
    }
    std::lock_guard lock(mutex_);
    unreconciled_[name] = std::move(listed);
  }
}

void IndexStorage::StartBucketListing(Registry& registry,
                                      std::function<void(std::vector<std::string>)> listed) {
  if (mirror_ == nullptr || !options_.list_bucket_after_start || listing_thread_.joinable()) {
    return;
  }
  stop_listing_.store(false);
  listing_thread_ = std::thread(
      [this, &registry, listed = std::move(listed)] { RunBucketListing(registry, listed); });
}

void IndexStorage::StopBucketListing() {
  stop_listing_.store(true);
  if (listing_thread_.joinable()) listing_thread_.join();
}

void IndexStorage::RunBucketListing(Registry& registry,
                                    const std::function<void(std::vector<std::string>)>& listed) {
  const auto started = std::chrono::steady_clock::now();
  auto keep_trying = [this] { return !stop_listing_.load(); };
  std::map<std::string, BucketIndex> surveyed;
  // Until it succeeds: every create, drop and unknown name waits for it. A
  // store that refuses the listing (permissions) or sends one that does not
  // parse is retried as patiently as one that does not answer.
  for (auto pause = std::chrono::milliseconds(1000);;
       pause = std::min(pause * 2, std::chrono::milliseconds(30000))) {
    Status failure;
    try {
      auto got = mirror_->Survey(keep_trying);
      if (got.ok()) {
        surveyed = std::move(got).value();
        break;
      }
      failure = got.status();
    } catch (const std::exception& e) {
      failure = Status::NoSpace(std::string("listing the bucket: ") + e.what());
    }
    if (!keep_trying()) return;  // the process is going down
    LogError("bucket_listing_failed",
             {{"error", failure.ToString()}, {"retry_in_ms", pause.count()}});
    for (const auto until = std::chrono::steady_clock::now() + pause;
         std::chrono::steady_clock::now() < until;) {
      if (!keep_trying()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (!keep_trying()) return;
  std::vector<std::string> bucket_only;
  LoadReport report;
  std::map<std::string, BucketIndex> loaded_meanwhile;
  ReconcileListing(registry, std::move(surveyed), &bucket_only, &report, &loaded_meanwhile);
  for (const std::string& name : bucket_only) {
    if (Status s = registry.RegisterUnloaded(name); !s.ok()) {
      LogWarn("bucket_index_not_registered", {{"index", name}, {"error", s.ToString()}});
    }
  }
  {
    std::lock_guard lock(mutex_);
    // Local indexes whose first load took them out of unlisted_ before the
    // listing reached them and then failed to list their own keys are back
    // in it: the listing's entry is theirs. Names the bucket does not hold
    // have nothing to reconcile with.
    for (const std::string& name : unlisted_) {
      auto it = loaded_meanwhile.find(name);
      if (it != loaded_meanwhile.end()) {
        unreconciled_[name] = std::move(it->second);
      } else {
        unreconciled_.try_emplace(name);
      }
    }
    unlisted_.clear();
    bucket_listed_ = true;
  }
  registry.SetDiscovering(false);
  LogInfo("bucket_listed", {{"indexes_only_in_bucket", bucket_only.size()},
                            {"failed", report.failed},
                            {"seconds", SecondsSince(started)}});
  if (listed) listed(registry.Names());
}

Result<std::shared_ptr<Index>> IndexStorage::OnLoad(const std::string& name, ThreadPool* workers) {
  std::optional<std::optional<BucketIndex>> unreconciled;
  bool unlisted = false;
  std::function<bool()> keep_trying;
  {
    std::lock_guard lock(mutex_);
    if (auto it = unreconciled_.find(name); it != unreconciled_.end()) {
      unreconciled.emplace(std::move(it->second));
      unreconciled_.erase(it);
    } else {
      unlisted = unlisted_.erase(name) != 0;
    }
    keep_trying = load_keep_trying_;
  }
  if (!keep_trying) {
    // A request waits for a bucket that blinks, but not for ever.
    const auto until = std::chrono::steady_clock::now() + options_.load_retry_time;
    keep_trying = [until] { return std::chrono::steady_clock::now() < until; };
  }
  if (unlisted) {
    // Loaded before the bucket's listing came: one listing of its own keys.
    std::optional<BucketIndex> own;
    Status s = RetryWhileUnavailable(
        "bucket_list_retry", name,
        [&] {
          auto one = mirror_->ListOne(name);
          if (one.ok()) own = std::move(*one);
          return one.status();
        },
        keep_trying);
    if (!s.ok()) {
      std::lock_guard lock(mutex_);
      unlisted_.insert(name);  // the next load tries again
      // Not damage of the index: the registry keeps it, unloaded.
      return Status::Unavailable("listing the object store for index " + name + ": " + s.message());
    }
    unreconciled.emplace(std::move(own));
  }
  if (mirror_ == nullptr || !unreconciled) return LoadOne(name, workers);
  // A load that fails for a passing reason (the registry keeps the index
  // unloaded: a store that did not answer, no space, no memory) leaves the
  // reconciliation to the next load, from where this one stopped.
  bool settled = false;
  struct PutBack {
    IndexStorage* storage;
    const std::string& name;
    std::optional<std::optional<BucketIndex>>& unreconciled;
    bool& settled;
    ~PutBack() {
      if (settled) return;
      std::lock_guard lock(storage->mutex_);
      storage->unreconciled_.try_emplace(name, std::move(*unreconciled));
    }
  } put_back{this, name, unreconciled, settled};
  BucketIndex* listed = unreconciled->has_value() ? &**unreconciled : nullptr;
  Result<std::shared_ptr<Index>> index = Status::Internal("not loaded");
  const auto started = std::chrono::steady_clock::now();
  if (listed != nullptr && listed->has_params && !objects_->Exists(ParamsKey(name))) {
    Status s = RetryWhileUnavailable(
        "hydrate_retry", name, [&] { return mirror_->Hydrate(name, listed, LogDirectory(name)); },
        keep_trying);
    if (s.ok()) {
      LogInfo("hydrated_from_bucket", {{"index", name},
                                       {"segments", listed->segments.size()},
                                       {"seconds", SecondsSince(started)}});
      index = LoadOne(name, workers);
    } else {
      // Only the partial download is removed: the bucket keeps its copy.
      LogError("hydrate_failed", {{"index", name}, {"error", s.ToString()}});
      RemoveLocalFiles(name);
      index = s;
    }
  } else {
    index = LoadAndReconcile(name, workers, listed, keep_trying);
  }
  settled = index.ok() || (index.status().code() != StatusCode::kUnavailable &&
                           index.status().code() != StatusCode::kNoSpace);
  return index;
}

Status IndexStorage::OnUnload(const std::shared_ptr<Index>& index) {
  if (index->diverged()) {
    // Not checkpointed (see Checkpoint): the next load replays the log,
    // which must then be whole on disk and, with a bucket, in the bucket.
    store::LogWriter* log = index->log();
    VECTORD_RETURN_IF_ERROR(log->SyncAll());
    if (store::LogShipper* shipper = log->shipper()) {
      VECTORD_RETURN_IF_ERROR(
          shipper->WaitShippedFor(log->last_sequence(), std::chrono::seconds(10)));
    }
  } else {
    // Its next load reads the snapshot instead of replaying the log, and
    // with a bucket the bucket's copy is current, so the shipper may go.
    VECTORD_RETURN_IF_ERROR(Checkpoint(index));
  }
  std::lock_guard lock(mutex_);
  const std::string& name = index->params().name;
  if (auto it = checkpoint_due_.find(name); it != checkpoint_due_.end() && it->second == index) {
    checkpoint_due_.erase(it);
  }
  known_.erase(name);
  return Status::Ok();
}

Result<IndexParams> IndexStorage::StoredParams(const std::string& name) {
  Result<std::string> text = objects_->Get(ParamsKey(name));
  if (!text.ok() && text.status().code() == StatusCode::kNotFound && mirror_ != nullptr) {
    // An index only the bucket holds until its first load.
    text = mirror_->bucket()->Get(ParamsKey(name));
    if (!text.ok() && text.status().code() != StatusCode::kNotFound) {
      return BucketError(text.status());
    }
  }
  if (!text.ok()) return text.status();
  auto params = ParseParamsJson(*text);
  if (!params.ok()) return params.status().WithContext(ParamsKey(name));
  return params;
}

StorageStats IndexStorage::stats() const {
  StorageStats stats;
  {
    std::lock_guard lock(mutex_);
    stats = stats_;
  }
  stats.open_log_files = open_log_files_->open_files();
  stats.parked_log_files = open_log_files_->parked();
  if (mirror_ != nullptr) {
    const store::ShippingTotals& totals = mirror_->shipping_totals();
    stats.segment_uploads = totals.objects.load(std::memory_order_relaxed);
    stats.segment_upload_bytes = totals.bytes.load(std::memory_order_relaxed);
    stats.segment_upload_failures = totals.failed_uploads.load(std::memory_order_relaxed);
  }
  return stats;
}

Result<std::shared_ptr<Index>> IndexStorage::LoadAndReconcile(
    const std::string& name, ThreadPool* workers, BucketIndex* listed,
    const std::function<bool()>& keep_trying) {
  auto index = LoadOne(name, workers);
  if (!index.ok() && listed != nullptr && listed->has_params) {
    // A damaged local copy: the bucket's holds every write acknowledged at
    // the object_store level.
    return ReplaceFromBucket(name, index.status(), listed, workers, keep_trying);
  }
  if (!index.ok()) return index;
  const uint64_t local_last = (*index)->applied_sequence();
  BucketMirror::Coverage covered;
  const bool bucket_has_it = listed != nullptr && listed->has_params;
  bool bucket_unreadable = false;
  if (bucket_has_it) {
    Status read = RetryWhileUnavailable(
        "bucket_coverage_retry", name,
        [&] {
          auto coverage = mirror_->Covered(name, listed);
          if (coverage.ok()) covered = *coverage;
          return coverage.status();
        },
        keep_trying);
    if (read.code() == StatusCode::kCorruption) {
      // An unreadable bucket snapshot: the disk's copy is the one to trust;
      // the catch-up below replaces the bucket's.
      LogError("bucket_copy_unreadable", {{"index", name}, {"error", read.ToString()}});
      covered = BucketMirror::Coverage();
      bucket_unreadable = true;
    } else if (!read.ok()) {
      return BucketError(read);
    } else if (covered.last > local_last) {
      // The bucket holds writes the disk lost (acknowledged at the
      // object-store level, not yet fsynced here): take the bucket's copy.
      LogWarn("bucket_ahead_of_disk",
              {{"index", name}, {"disk_sequence", local_last}, {"bucket_sequence", covered.last}});
      index = Status::Internal("replaced");  // stops the old copy's shipper first
      VECTORD_RETURN_IF_ERROR(RetryWhileUnavailable(
          "hydrate_retry", name, [&] { return mirror_->Hydrate(name, listed, LogDirectory(name)); },
          keep_trying));
      index = LoadOne(name, workers);
      if (!index.ok()) return index;
      std::lock_guard lock(mutex_);
      bucket_sequence_[name] = covered.snapshot_tag;
      return index;
    }
  }
  {
    std::lock_guard lock(mutex_);
    bucket_sequence_[name] = covered.snapshot_tag;
  }
  const bool behind = !bucket_has_it || bucket_unreadable || covered.last < local_last;
  if (!behind) return index;
  // The disk holds writes the bucket lacks (acknowledged at a local level,
  // or the store was unreachable): checkpoint to the bucket before serving,
  // or later uploads would build on a gap.
  LogInfo("bucket_behind_disk",
          {{"index", name}, {"disk_sequence", local_last}, {"bucket_sequence", covered.last}});
  {
    std::lock_guard lock(mutex_);
    bucket_sequence_[name] = UINT64_MAX;  // forces the upload
  }
  Status synced = RetryWhileUnavailable(
      "bucket_catch_up_retry", name,
      [&] {
        Status s = Checkpoint(*index);
        if (s.ok() && (listed == nullptr || !listed->has_params)) {
          s = mirror_->PutParams(name, ParamsJson((*index)->params()));
          if (!s.ok()) s = BucketError(s);
        }
        return s;
      },
      keep_trying);
  if (!synced.ok()) return synced;
  return index;
}

Result<std::shared_ptr<Index>> IndexStorage::ReplaceFromBucket(
    const std::string& name, const Status& local_error, BucketIndex* listed, ThreadPool* workers,
    const std::function<bool()>& keep_trying) {
  LogError("local_copy_damaged", {{"index", name}, {"error", local_error.ToString()}});
  const std::string folder = NewQuarantineFolder(name);
  Status staged = RetryWhileUnavailable(
      "hydrate_retry", name, [&] { return StageBucketCopy(name, listed, workers, folder); },
      keep_trying);
  if (!staged.ok()) {
    return local_error.WithContext(name + ": the object store's copy did not load either (" +
                                   staged.message() + "); the local copy");
  }
  {
    std::lock_guard checkpoint(checkpoint_mutex_);
    VECTORD_RETURN_IF_ERROR(SwapInStaged(name));
  }
  LogWarn("local_copy_replaced_from_bucket", {{"index", name},
                                              {"local_error", local_error.ToString()},
                                              {"quarantine", objects_->PathOf(folder)}});
  VECTORD_ASSIGN_OR_RETURN(std::shared_ptr<Index> index, LoadOne(name, workers));
  if (auto covered = mirror_->Covered(name, listed); covered.ok()) {
    std::lock_guard lock(mutex_);
    bucket_sequence_[name] = covered->snapshot_tag;
  }
  return index;
}

}  // namespace vectord::service
