// Replaying an index's log, and rebuilding an index that failed to load from
// what is intact in its files (docs/storage-layout.md, "Recovering a failed
// index").
#include <chrono>
#include <optional>
#include <set>

#include "common/log.h"
#include "service/index_storage.h"
#include "service/log_records.h"
#include "service/params_file.h"
#include "service/storage_keys.h"

namespace vectord::service {

Result<IndexStorage::Replay> IndexStorage::ReplayLog(Index& index, const std::string& name,
                                                     uint64_t tag, bool stop_at_damage,
                                                     ThreadPool* workers) {
  const uint32_t dimension = index.params().dimension;
  const std::string dir = LogDirectory(name);
  Replay replay;
  // Damage ends a recovering replay where it starts; anything else fails.
  auto damaged = [&](Status s) -> Status {
    if (!stop_at_damage) return s;
    if (replay.damage.ok()) replay.damage = std::move(s);
    return Status::Ok();
  };

  // Pass 1: the records whose writes failed, named by cancel records that
  // come after them. Pass 2: replay the rest, up to the last record pass 1
  // read whole (a cancel record it could not read may name later ones).
  std::set<uint64_t> canceled;
  uint64_t limit = ~uint64_t{0};
  {
    VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::LogReader> scan,
                             store::LogReader::Open(fs_, dir, dimension));
    uint64_t read_whole = 0;
    for (;;) {
      auto record = scan->Next();
      if (!record.ok()) {
        VECTORD_RETURN_IF_ERROR(damaged(record.status()));
        limit = read_whole;
        break;
      }
      if (!record->has_value()) break;
      if ((*record)->type == store::log_format::RecordType::kCancel) {
        auto sequences = DecodeCancel((*record)->payload);
        if (!sequences.ok()) {
          VECTORD_RETURN_IF_ERROR(damaged(sequences.status().WithContext(dir)));
          limit = read_whole;
          break;
        }
        canceled.insert(sequences->begin(), sequences->end());
      }
      read_whole = (*record)->sequence;
    }
  }
  VECTORD_ASSIGN_OR_RETURN(replay.reader, store::LogReader::Open(fs_, dir, dimension));
  for (;;) {
    auto next = replay.reader->Next();
    if (!next.ok()) {
      VECTORD_RETURN_IF_ERROR(damaged(next.status()));
      break;
    }
    if (!next->has_value() || (*next)->sequence > limit) break;
    const store::LogRecord& r = **next;
    if (r.sequence <= tag) continue;  // already in the snapshot
    if (r.type == store::log_format::RecordType::kCancel || canceled.count(r.sequence) != 0) {
      continue;
    }
    const std::string context = dir + ": record " + std::to_string(r.sequence);
    if (r.type == store::log_format::RecordType::kUpsert) {
      auto items = DecodeUpsert(r.payload, dimension);
      if (!items.ok()) {
        VECTORD_RETURN_IF_ERROR(damaged(items.status().WithContext(context)));
        break;
      }
      Status s = index.ReplayUpsert(*items, workers);
      if (!s.ok()) {
        VECTORD_RETURN_IF_ERROR(damaged(s.WithContext(context)));
        break;
      }
    } else {
      auto ids = DecodeDelete(r.payload);
      if (!ids.ok()) {
        VECTORD_RETURN_IF_ERROR(damaged(ids.status().WithContext(context)));
        break;
      }
      index.ReplayDelete(*ids);
    }
    if (replay.records++ == 0) replay.first = r.sequence;
    replay.last = r.sequence;
  }
  return replay;
}

Result<Recovered> IndexStorage::OnRecover(const std::string& name, ThreadPool* workers) {
  std::lock_guard checkpoint(checkpoint_mutex_);
  Recovered out;
  RecoveryReport& report = out.report;

  // With an object store, its copy first: when it loads whole it holds every
  // write acknowledged at the object_store level, so the partial rebuild
  // below is refused and that copy served instead.
  std::optional<BucketIndex> listed;
  if (mirror_ != nullptr) {
    auto found = mirror_->ListIndex(name);
    if (!found.ok()) return BucketError(found.status());
    listed = std::move(found).value();
  }
  if (listed && listed->has_params) {
    const std::string folder = NewQuarantineFolder(name);
    Status staged = StageBucketCopy(name, &*listed, workers, folder);
    if (staged.ok()) {
      VECTORD_RETURN_IF_ERROR(SwapInStaged(name));
      report.quarantine = objects_->PathOf(folder);
      VECTORD_ASSIGN_OR_RETURN(out.index, LoadOne(name, workers));
      report.items = out.index->size();
      if (auto covered = mirror_->Covered(name, &*listed); covered.ok()) {
        std::lock_guard lock(mutex_);
        bucket_sequence_[name] = covered->snapshot_tag;
      }
      out.loaded_object_store_copy =
          "recover refused: the object store holds a complete copy of " + name + " (" +
          std::to_string(report.items) + " items, through sequence " +
          std::to_string(out.index->applied_sequence()) +
          "), which is loaded instead: nothing is lost; the damaged local files are in " +
          report.quarantine;
      LogWarn("recover_loaded_bucket_copy", {{"index", name}, {"quarantine", report.quarantine}});
      return out;
    }
    if (staged.code() == StatusCode::kUnavailable) return BucketError(staged);
    report.object_store_note = "the object store's copy did not load either (" + staged.message() +
                               "); it is moved to the bucket's quarantine";
  }

  // The params file (read first: it says where the vectors go) ...
  Result<IndexParams> params = Status::NotFound(ParamsKey(name) + ": missing");
  if (auto text = objects_->Get(ParamsKey(name)); text.ok()) params = ParseParamsJson(*text);

  // ... the snapshot, if it loads whole; otherwise an empty start and a note.
  std::unique_ptr<engine::HnswIndex> engine;
  uint64_t tag = 0;
  auto reader = objects_->Open(SnapshotKey(name));
  if (reader.ok()) {
    const engine::VectorStorage vectors =
        params.ok() ? EngineOptions(*params, options_.vector_directory).vectors
                    : engine::VectorStorage{};
    auto loaded = engine::HnswIndex::Load(**reader, &tag, vectors);
    if (loaded.ok() && (*reader)->position() == (*reader)->size()) {
      engine = std::move(loaded).value();
    } else {
      report.snapshot_error =
          loaded.ok() ? "unexpected bytes after the end marker" : loaded.status().message();
      report.snapshot_error = SnapshotKey(name) + ": " + report.snapshot_error;
      tag = 0;
    }
  } else if (reader.status().code() != StatusCode::kNotFound) {
    return reader.status();
  }

  // ... or else the parameters the snapshot carries.
  if (!params.ok() && engine != nullptr) {
    report.params_note = "params taken from the snapshot (" + params.status().message() + ")";
    params = ParamsOf(name, engine->options());
  }
  if (!params.ok()) {
    return Status::AlreadyExists("recover " + name + ": no intact params file or snapshot to " +
                                 "take its parameters from (" + params.status().message() + ")");
  }
  if (engine != nullptr && (engine->options().dimension != params->dimension ||
                            engine->options().metric != params->metric)) {
    report.snapshot_error = SnapshotKey(name) + ": does not match its params file";
    engine.reset();
    tag = 0;
  }
  if (engine == nullptr) {
    VECTORD_ASSIGN_OR_RETURN(
        engine, engine::HnswIndex::Create(EngineOptions(*params, options_.vector_directory)));
  }
  report.snapshot_sequence = tag;
  const uint32_t dimension = params->dimension;
  auto index = std::make_shared<Index>(*params, std::move(engine));

  VECTORD_ASSIGN_OR_RETURN(Replay replay, ReplayLog(*index, name, tag, true, workers));
  report.records = replay.records;
  report.first_record = replay.first;
  report.last_record = replay.last;
  if (!replay.damage.ok()) report.log_error = replay.damage.message();
  report.items = index->size();
  const uint64_t last = std::max(tag, replay.last);

  // The rebuilt index is written to the staging folder whole (snapshot
  // tagged with its last record, an empty log after it, the params file),
  // then swapped in file by file, each damaged file into the quarantine. A
  // crash before the swap leaves the damaged files in place (the index is
  // failed again); a crash during it is finished at start-up.
  replay.reader.reset();
  const std::string folder = NewQuarantineFolder(name);
  VECTORD_RETURN_IF_ERROR(StageRebuilt(name, *index, last, folder));
  VECTORD_RETURN_IF_ERROR(SwapInStaged(name));
  report.quarantine = objects_->PathOf(folder);
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::LogWriter> log,
                           store::LogWriter::Open(fs_, LogDirectory(name), dimension, last + 1,
                                                  nullptr, open_log_files_));
  if (mirror_ != nullptr) {
    const std::string leaf = report.quarantine.substr(report.quarantine.rfind('/') + 1);
    if (Status s = ReplaceBucketCopy(name, ParamsJson(*params), leaf); !s.ok()) {
      return BucketError(s);
    }
    log->AttachShipper(mirror_->MakeShipper(name, dimension, last));
  }
  index->AttachLog(std::move(log), options_.fsync_always, mirror_ != nullptr);
  index->SetAppliedSequence(last);
  {
    std::lock_guard lock(mutex_);
    known_[name] = index;
    snapshot_sequence_[name] = last;
    if (mirror_ != nullptr) bucket_sequence_[name] = last;
  }
  LogWarn("index_recovered", {{"index", name}, {"report", report.Summary()}});
  out.index = std::move(index);
  return out;
}

std::string IndexStorage::StagingRoot(const std::string& name) const {
  return objects_->PathOf(std::string(storage_keys::kStagingDirectory) + "/" + name);
}

Status IndexStorage::RemoveTree(const std::string& path) {
  if (!fs_->Exists(path)) return Status::Ok();
  if (!fs_->IsDirectory(path)) return fs_->RemoveFile(path);
  VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs_->ListDirectory(path));
  for (const std::string& entry : names) VECTORD_RETURN_IF_ERROR(RemoveTree(path + "/" + entry));
  return fs_->RemoveDirectory(path);
}

Status IndexStorage::StageBucketCopy(const std::string& name, BucketIndex* listed,
                                     ThreadPool* workers, const std::string& quarantine_folder) {
  const std::string root = StagingRoot(name);
  VECTORD_RETURN_IF_ERROR(RemoveTree(root));
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::LocalObjectStore> staged_objects,
                           store::LocalObjectStore::OpenRoot(root, /*sync=*/true, fs_));
  Status loaded;
  {
    // A storage of its own over the staging folder, without a bucket: the
    // same load as at start-up, and nothing it writes reaches the bucket
    // (only Hydrate may, repairing a torn segment object as at start-up).
    BucketMirror staged_mirror(mirror_->bucket(), staged_objects.get());
    StorageOptions staged_options = options_;
    staged_options.data_dir = root;
    IndexStorage staged(staged_objects.get(), staged_options, nullptr);
    loaded = staged_mirror.Hydrate(name, listed, staged.LogDirectory(name));
    if (loaded.ok()) loaded = staged.LoadOne(name, workers).status();
  }
  if (loaded.ok()) loaded = SealStaged(*staged_objects, name, quarantine_folder);
  if (!loaded.ok()) (void)RemoveTree(root);
  return loaded;
}

namespace {
// In a staging folder: the quarantine folder its swap moves the replaced
// files to, then the keys it stages, one per line. Written last: a staging
// folder without it is incomplete and removed at start-up.
constexpr std::string_view kStagedManifest = "STAGED";
}  // namespace

std::string IndexStorage::NewQuarantineFolder(const std::string& name) const {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::string(storage_keys::kQuarantineDirectory) + "/" + name + "." +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

Status IndexStorage::SealStaged(store::LocalObjectStore& staged, const std::string& name,
                                const std::string& quarantine_folder) {
  std::string manifest = quarantine_folder + "\n";
  for (const std::string& key :
       {SnapshotKey(name), storage_keys::LogDirectory(name), ParamsKey(name)}) {
    if (staged.Exists(key)) manifest += key + "\n";
  }
  return staged.Put(kStagedManifest, manifest);
}

Status IndexStorage::StageRebuilt(const std::string& name, Index& index, uint64_t last,
                                  const std::string& quarantine_folder) {
  const std::string root = StagingRoot(name);
  VECTORD_RETURN_IF_ERROR(RemoveTree(root));
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::LocalObjectStore> staged,
                           store::LocalObjectStore::OpenRoot(root, /*sync=*/true, fs_));
  {
    VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::ObjectWriter> writer,
                             staged->Create(SnapshotKey(name)));
    VECTORD_RETURN_IF_ERROR(index.engine().Save(*writer, last));
    VECTORD_RETURN_IF_ERROR(writer->Commit());
  }
  VECTORD_RETURN_IF_ERROR(store::LogWriter::Open(fs_,
                                                 staged->PathOf(storage_keys::LogDirectory(name)),
                                                 index.params().dimension, last + 1, nullptr)
                              .status());
  VECTORD_RETURN_IF_ERROR(staged->Put(ParamsKey(name), ParamsJson(index.params())));
  return SealStaged(*staged, name, quarantine_folder);
}

Status IndexStorage::SwapInStaged(const std::string& name) {
  const std::string root = StagingRoot(name);
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::LocalObjectStore> staged,
                           store::LocalObjectStore::OpenRoot(root, /*sync=*/true, fs_));
  VECTORD_ASSIGN_OR_RETURN(const std::string manifest, staged->Get(kStagedManifest));
  std::vector<std::string> lines;
  for (size_t at = 0; at < manifest.size();) {
    const size_t end = manifest.find('\n', at);
    if (end == std::string::npos) break;
    lines.push_back(manifest.substr(at, end - at));
    at = end + 1;
  }
  if (lines.empty())
    return Status::Corruption(root + "/" + std::string(kStagedManifest) + ": empty");
  const std::string folder = objects_->PathOf(lines[0]);
  const std::set<std::string> staged_keys(lines.begin() + 1, lines.end());
  VECTORD_RETURN_IF_ERROR(fs_->CreateDirectories(folder));
  // File by file, the params file last: the local one into the quarantine,
  // the staged one into its place. A staged key whose file is gone from the
  // staging folder was swapped already (a swap cut short and finished at
  // start-up): its local file is the new one and stays.
  for (const std::string& key : {SnapshotKey(name), storage_keys::LogDirectory(name),
                                 storage_keys::DroppingParams(name), ParamsKey(name)}) {
    const bool listed = staged_keys.count(key) != 0;
    const bool waiting = listed && staged->Exists(key);
    if (listed && !waiting) continue;
    const std::string local = objects_->PathOf(key);
    if (fs_->Exists(local)) {
      VECTORD_RETURN_IF_ERROR(
          fs_->RenameFile(local, folder + "/" + key.substr(key.rfind('/') + 1)));
    }
    if (waiting) VECTORD_RETURN_IF_ERROR(fs_->RenameFile(staged->PathOf(key), local));
  }
  VECTORD_RETURN_IF_ERROR(fs_->SyncDirectory(folder));
  VECTORD_RETURN_IF_ERROR(fs_->SyncDirectory(objects_->PathOf(storage_keys::kDirectory)));
  LogWarn("index_files_swapped", {{"index", name}, {"quarantine", folder}});
  staged.reset();
  return RemoveTree(root);
}

Status IndexStorage::FinishStagedSwaps() {
  const std::string staging = objects_->PathOf(storage_keys::kStagingDirectory);
  if (!fs_->Exists(staging)) return Status::Ok();
  VECTORD_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs_->ListDirectory(staging));
  Status first;
  for (const std::string& name : names) {
    Status s;
    if (fs_->Exists(staging + "/" + name + "/" + std::string(kStagedManifest))) {
      LogWarn("finishing_staged_swap", {{"index", name}});
      s = SwapInStaged(name);
    } else {
      s = RemoveTree(staging + "/" + name);  // incomplete: the local files are untouched
    }
    if (!s.ok() && first.ok()) first = s.WithContext(staging + "/" + name);
  }
  if (first.ok()) first = RemoveTree(staging);
  return first;
}

Status IndexStorage::ReplaceBucketCopy(const std::string& name, const std::string& params_json,
                                       const std::string& quarantine_leaf) {
  VECTORD_RETURN_IF_ERROR(mirror_->QuarantineIndex(
      name, std::string(storage_keys::kQuarantineDirectory) + "/" + quarantine_leaf));
  // The snapshot, then the parameters: the bucket's commit point.
  VECTORD_RETURN_IF_ERROR(mirror_->UploadSnapshot(name));
  return mirror_->PutParams(name, params_json);
}

}  // namespace vectord::service
