// Replaying an index's log, and rebuilding an index that failed to load from
// what is intact in its files (docs/storage-layout.md, "Recovering a failed
// index").
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
    Status staged = StageBucketCopy(name, &*listed, workers);
    if (staged.ok()) {
      VECTORD_ASSIGN_OR_RETURN(report.quarantine, QuarantineLocked(name));
      VECTORD_RETURN_IF_ERROR(AdoptStaged(name));
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

  // The snapshot, if it loads whole; otherwise an empty start and a note.
  std::unique_ptr<engine::HnswIndex> engine;
  uint64_t tag = 0;
  auto reader = objects_->Open(SnapshotKey(name));
  if (reader.ok()) {
    auto loaded = engine::HnswIndex::Load(**reader, &tag);
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

  // The params file, or else the parameters the snapshot carries.
  Result<IndexParams> params = Status::NotFound(ParamsKey(name) + ": missing");
  if (auto text = objects_->Get(ParamsKey(name)); text.ok()) params = ParseParamsJson(*text);
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
    VECTORD_ASSIGN_OR_RETURN(engine, engine::HnswIndex::Create(EngineOptions(*params)));
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

  // The damaged files go to quarantine; the rebuilt index is stored anew,
  // its params file last (the commit point, as in a create). A crash before
  // that leaves the quarantine whole and the new files as leftovers.
  replay.reader.reset();
  VECTORD_ASSIGN_OR_RETURN(report.quarantine, QuarantineLocked(name));
  VECTORD_ASSIGN_OR_RETURN(
      std::unique_ptr<store::LogWriter> log,
      store::LogWriter::Open(fs_, LogDirectory(name), dimension, last + 1, nullptr));
  {
    VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::ObjectWriter> writer,
                             objects_->Create(SnapshotKey(name)));
    VECTORD_RETURN_IF_ERROR(index->engine().Save(*writer, last));
    VECTORD_RETURN_IF_ERROR(writer->Commit());
  }
  VECTORD_RETURN_IF_ERROR(objects_->Put(ParamsKey(name), ParamsJson(*params)));
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

}  // namespace vectord::service

namespace vectord::service {

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
                                     ThreadPool* workers) {
  const std::string root = StagingRoot(name);
  VECTORD_RETURN_IF_ERROR(RemoveTree(root));
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<store::LocalObjectStore> staged_objects,
                           store::LocalObjectStore::OpenRoot(root, /*sync=*/true, fs_));
  Status loaded;
  {
    // A storage of its own over the staging folder, without a bucket: the
    // same load as at start-up, and nothing of it can reach the bucket.
    BucketMirror staged_mirror(mirror_->bucket(), staged_objects.get());
    StorageOptions staged_options = options_;
    staged_options.data_dir = root;
    IndexStorage staged(staged_objects.get(), staged_options, nullptr);
    loaded = staged_mirror.Hydrate(name, listed, staged.LogDirectory(name));
    if (loaded.ok()) loaded = staged.LoadOne(name, workers).status();
  }
  if (!loaded.ok()) (void)RemoveTree(root);
  return loaded;
}

Status IndexStorage::AdoptStaged(const std::string& name) {
  const std::string root = StagingRoot(name);
  // The params file last: it is what makes the index exist.
  for (const std::string& key :
       {SnapshotKey(name), storage_keys::LogDirectory(name), ParamsKey(name)}) {
    const std::string from = root + "/" + key;
    if (!fs_->Exists(from)) continue;
    VECTORD_RETURN_IF_ERROR(fs_->RenameFile(from, objects_->PathOf(key)));
  }
  VECTORD_RETURN_IF_ERROR(fs_->SyncDirectory(objects_->PathOf(storage_keys::kDirectory)));
  return RemoveTree(root);
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
