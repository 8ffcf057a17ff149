#include "service/index_storage.h"

#include <simdjson.h>

#include <set>

#include "common/log.h"
#include "service/index_name.h"
#include "service/log_records.h"
#include "store/log_reader.h"

namespace vectord::service {
namespace {

constexpr std::string_view kPrefix = "_vectors/";
constexpr std::string_view kParamsFormat = "vectord.index-params";
constexpr int kParamsVersion = 1;

// Counts what passes through to the store's writer.
class CountingSink final : public engine::ByteSink {
 public:
  explicit CountingSink(engine::ByteSink& inner) : inner_(inner) {}
  Status Write(const void* data, size_t size) override {
    bytes_ += size;
    return inner_.Write(data, size);
  }
  uint64_t bytes() const { return bytes_; }

 private:
  engine::ByteSink& inner_;
  uint64_t bytes_ = 0;
};

std::string ParamsJson(const IndexParams& p) {
  // Names are validated to [A-Za-z0-9_.-], so no escaping is needed.
  return "{\"format\":\"" + std::string(kParamsFormat) +
         "\",\"format_version\":" + std::to_string(kParamsVersion) + ",\"params\":{\"name\":\"" +
         p.name + "\",\"dimension\":" + std::to_string(p.dimension) +
         ",\"m\":" + std::to_string(p.m) + ",\"ef_search\":" + std::to_string(p.ef_search) +
         ",\"ef_construction\":" + std::to_string(p.ef_construction) + ",\"distance\":\"" +
         std::string(engine::MetricName(p.metric)) + "\",\"quantization\":\"" +
         std::string(engine::QuantizationName(p.quantization)) + "\"}}\n";
}

Result<IndexParams> ParseParamsJson(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto error = parser.parse(text).get(doc)) {
    return Status::Corruption(std::string("params file is not JSON: ") +
                              simdjson::error_message(error));
  }
  std::string_view format;
  int64_t version = 0;
  simdjson::dom::object params;
  if (doc["format"].get(format) || format != kParamsFormat || doc["format_version"].get(version) ||
      doc["params"].get(params)) {
    return Status::Corruption("params file lacks format, format_version or params");
  }
  if (version != kParamsVersion) {
    return Status::Corruption("params file format_version " + std::to_string(version) +
                              " is not supported");
  }
  CreateSpec spec;
  std::string_view name, distance;
  if (params["name"].get(name) || params["dimension"].get(spec.dimension) ||
      params["m"].get(spec.m) || params["ef_search"].get(spec.ef_search) ||
      params["ef_construction"].get(spec.ef_construction) || params["distance"].get(distance)) {
    return Status::Corruption("params file has a missing or mistyped field");
  }
  spec.name = name;
  spec.distance = distance;
  // Added after the first release of this file: absent means none.
  std::string_view quantization;
  if (params["quantization"].get(quantization) == simdjson::SUCCESS) {
    spec.quantization = quantization;
  } else if (params["quantization"].error() != simdjson::NO_SUCH_FIELD) {
    return Status::Corruption("params file has a mistyped quantization");
  }
  auto resolved = ResolveParams(spec);
  if (!resolved.ok()) return Status::Corruption("params file: " + resolved.status().message());
  return resolved;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string IndexStorage::ParamsKey(std::string_view name) {
  return std::string(kPrefix) + std::string(name) + ".json";
}
std::string IndexStorage::SnapshotKey(std::string_view name) {
  return std::string(kPrefix) + std::string(name) + ".hnsw";
}
std::string IndexStorage::LogDirectory(std::string_view name) const {
  return objects_->root() + "/" + std::string(kPrefix) + std::string(name) + ".wal";
}

IndexStorage::IndexStorage(store::LocalObjectStore* objects, store::FileSystem* fs,
                           StorageOptions options)
    : objects_(objects), fs_(fs), options_(std::move(options)) {}

IndexStorage::~IndexStorage() { Stop(); }

Status IndexStorage::OnCreate(Index& index) {
  const IndexParams& p = index.params();
  // Clear anything a crashed create of the same name left behind.
  VECTORD_RETURN_IF_ERROR(RemoveLogDirectory(p.name));
  VECTORD_RETURN_IF_ERROR(objects_->Delete(SnapshotKey(p.name)));
  auto log = store::LogWriter::Open(fs_, LogDirectory(p.name), p.dimension, 1, nullptr);
  if (!log.ok()) return log.status();
  VECTORD_RETURN_IF_ERROR(objects_->Put(ParamsKey(p.name), ParamsJson(p)));  // the commit point
  index.AttachLog(std::move(log).value(), options_.fsync_always);
  std::lock_guard lock(mutex_);
  known_[p.name] = std::weak_ptr<Index>();  // filled in by OnWrite / LoadAll
  snapshot_sequence_[p.name] = 0;
  return Status::Ok();
}

Status IndexStorage::OnDrop(const std::string& name) {
  std::lock_guard checkpoint(checkpoint_mutex_);
  VECTORD_RETURN_IF_ERROR(objects_->Delete(ParamsKey(name)));  // from here on it is gone
  Status s = objects_->Delete(SnapshotKey(name));
  if (s.ok()) s = RemoveLogDirectory(name);
  if (!s.ok()) LogWarn("drop_cleanup_failed", {{"index", name}, {"error", s.ToString()}});
  std::lock_guard lock(mutex_);
  known_.erase(name);
  snapshot_sequence_.erase(name);
  checkpoint_due_.erase(name);
  return Status::Ok();
}

Status IndexStorage::RemoveLogDirectory(const std::string& name) {
  std::string dir = LogDirectory(name);
  if (!fs_->Exists(dir)) return Status::Ok();
  auto names = fs_->ListDirectory(dir);
  if (!names.ok()) return names.status();
  for (const std::string& file : *names) VECTORD_RETURN_IF_ERROR(fs_->RemoveFile(dir + "/" + file));
  return fs_->RemoveDirectory(dir);
}

void IndexStorage::OnWrite(const std::shared_ptr<Index>& index) {
  store::LogWriter* log = index->log();
  const bool due = log != nullptr && log->current_segment_bytes() >= options_.checkpoint_bytes;
  std::lock_guard lock(mutex_);
  known_[index->params().name] = index;
  if (due) {
    checkpoint_due_[index->params().name] = index;
    wake_.notify_all();
  }
}

Status IndexStorage::Checkpoint(const std::shared_ptr<Index>& index) {
  std::lock_guard checkpoint(checkpoint_mutex_);
  if (index->dropped() || index->log() == nullptr) return Status::Ok();
  const std::string& name = index->params().name;
  {
    std::lock_guard lock(mutex_);
    auto it = snapshot_sequence_.find(name);
    if (it != snapshot_sequence_.end() && it->second == index->applied_sequence()) {
      return Status::Ok();  // nothing new since the last snapshot
    }
  }
  auto started = std::chrono::steady_clock::now();
  auto rotated = index->log()->Rotate();
  if (!rotated.ok()) return rotated.status();
  // Every record up to `tag` has been applied, so the snapshot holds it;
  // records after it are replayed from the log.
  const uint64_t tag = index->applied_sequence();
  auto writer = objects_->Create(SnapshotKey(name));
  if (!writer.ok()) return writer.status();
  CountingSink counter(**writer);
  VECTORD_RETURN_IF_ERROR(index->engine().Save(counter, tag));
  VECTORD_RETURN_IF_ERROR((*writer)->Commit());
  VECTORD_RETURN_IF_ERROR(index->log()->DropSegmentsThrough(tag));
  const double seconds = SecondsSince(started);
  {
    std::lock_guard lock(mutex_);
    snapshot_sequence_[name] = tag;
    ++stats_.checkpoints;
    stats_.snapshot_bytes += counter.bytes();
    stats_.last_checkpoint_seconds = seconds;
    stats_.longest_checkpoint_seconds = std::max(stats_.longest_checkpoint_seconds, seconds);
  }
  LogInfo("checkpoint", {{"index", name},
                         {"items", index->size()},
                         {"sequence", tag},
                         {"bytes", counter.bytes()},
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
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void IndexStorage::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IndexStorage::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (options_.fsync_always) {
      wake_.wait(lock, [this] { return stopping_ || !checkpoint_due_.empty(); });
    } else {
      wake_.wait_for(lock, options_.fsync_interval,
                     [this] { return stopping_ || !checkpoint_due_.empty(); });
    }
    if (stopping_) break;
    std::map<std::string, std::shared_ptr<Index>> due;
    due.swap(checkpoint_due_);
    std::vector<std::shared_ptr<Index>> live;
    if (!options_.fsync_always) {
      for (const auto& [name, weak] : known_) {
        if (auto index = weak.lock()) live.push_back(index);
      }
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
    for (const auto& [name, index] : due) {
      Status s = Checkpoint(index);
      if (!s.ok()) {
        LogWarn("checkpoint_failed", {{"index", name}, {"error", s.ToString()}});
        std::lock_guard relock(mutex_);
        ++stats_.checkpoint_failures;
      }
    }
    lock.lock();
  }
}

Result<std::shared_ptr<Index>> IndexStorage::LoadOne(const std::string& name, ThreadPool* workers) {
  auto text = objects_->Get(ParamsKey(name));
  if (!text.ok()) return text.status();
  auto params = ParseParamsJson(*text);
  if (!params.ok()) return params.status().WithContext(ParamsKey(name));
  if (params->name != name) return Status::Corruption(ParamsKey(name) + ": names another index");

  std::unique_ptr<engine::HnswIndex> engine;
  uint64_t tag = 0;
  auto reader = objects_->Open(SnapshotKey(name));
  if (reader.ok()) {
    auto loaded = engine::HnswIndex::Load(**reader, &tag);
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
    auto created = engine::HnswIndex::Create(EngineOptions(*params));
    if (!created.ok()) return created.status();
    engine = std::move(created).value();
  } else {
    return reader.status();
  }
  const uint32_t dimension = params->dimension;
  auto index = std::make_shared<Index>(std::move(params).value(), std::move(engine));

  // Pass 1: the records whose writes failed (named by cancel records, which
  // come after them). Pass 2: replay the rest.
  std::set<uint64_t> canceled;
  {
    auto scan = store::LogReader::Open(fs_, LogDirectory(name), dimension);
    if (!scan.ok()) return scan.status();
    for (;;) {
      auto record = (*scan)->Next();
      if (!record.ok()) return record.status();
      if (!record->has_value()) break;
      if ((*record)->type != store::log_format::RecordType::kCancel) continue;
      auto sequences = DecodeCancel((*record)->payload);
      if (!sequences.ok()) return sequences.status().WithContext(LogDirectory(name));
      canceled.insert(sequences->begin(), sequences->end());
    }
  }
  auto log = store::LogReader::Open(fs_, LogDirectory(name), dimension);
  if (!log.ok()) return log.status();
  uint64_t replayed = 0;
  for (;;) {
    auto record = (*log)->Next();
    if (!record.ok()) return record.status();
    if (!record->has_value()) break;
    const store::LogRecord& r = **record;
    if (r.sequence <= tag) continue;  // already in the snapshot
    if (r.type == store::log_format::RecordType::kCancel || canceled.count(r.sequence) != 0)
      continue;
    auto context = [&] { return LogDirectory(name) + ": record " + std::to_string(r.sequence); };
    if (r.type == store::log_format::RecordType::kUpsert) {
      auto items = DecodeUpsert(r.payload, dimension);
      if (!items.ok()) return items.status().WithContext(context());
      Status s = index->ReplayUpsert(*items, workers);
      if (!s.ok()) return s.WithContext(context());
    } else {
      auto ids = DecodeDelete(r.payload);
      if (!ids.ok()) return ids.status().WithContext(context());
      index->ReplayDelete(*ids);
    }
    ++replayed;
  }
  if ((*log)->torn())
    LogWarn("wal_torn_tail", {{"index", name}, {"detail", (*log)->torn_description()}});
  const uint64_t last = std::max(tag, (*log)->last_sequence());
  std::optional<store::LogWriter::Tail> tail = (*log)->tail();
  auto writer =
      store::LogWriter::Open(fs_, LogDirectory(name), dimension, last + 1, tail ? &*tail : nullptr);
  if (!writer.ok()) return writer.status();
  index->AttachLog(std::move(writer).value(), options_.fsync_always);
  index->SetAppliedSequence(last);
  std::lock_guard lock(mutex_);
  known_[name] = index;
  snapshot_sequence_[name] = replayed == 0 ? last : tag;
  stats_.replayed_records += replayed;
  return index;
}

IndexStorage::LoadReport IndexStorage::LoadAll(Registry& registry, ThreadPool* workers) {
  LoadReport report;
  auto keys = objects_->List(kPrefix);
  if (!keys.ok()) {
    LogError("rehydrate_list_failed",
             {{"store", objects_->Describe()}, {"error", keys.status().ToString()}});
    ++report.failed;
    return report;
  }
  std::set<std::string> with_params, with_other;
  for (const std::string& key : *keys) {
    std::string_view rest = std::string_view(key).substr(kPrefix.size());
    size_t slash = rest.find('/');
    std::string_view file = rest.substr(0, slash);
    auto strip = [&](std::string_view suffix) -> std::optional<std::string> {
      if (file.size() > suffix.size() && file.substr(file.size() - suffix.size()) == suffix) {
        return std::string(file.substr(0, file.size() - suffix.size()));
      }
      return std::nullopt;
    };
    if (slash == std::string_view::npos) {
      if (auto n = strip(".json")) with_params.insert(*n);
      if (auto n = strip(".hnsw")) with_other.insert(*n);
    } else if (auto n = strip(".wal")) {
      with_other.insert(*n);
    }
  }
  // Log directories, which List (files only) misses when they are empty.
  if (auto entries = fs_->ListDirectory(objects_->root() + "/" + std::string(kPrefix));
      entries.ok()) {
    for (const std::string& entry : *entries) {
      if (entry.size() > 4 && entry.compare(entry.size() - 4, 4, ".wal") == 0) {
        with_other.insert(entry.substr(0, entry.size() - 4));
      }
    }
  }
  // Leftovers of a create that never reached its commit point, or of a drop
  // that was cut short, hold nothing anyone was promised.
  for (const std::string& name : with_other) {
    if (with_params.count(name) != 0 || !ValidateIndexName(name).ok()) continue;
    LogInfo("removing_leftovers", {{"index", name}});
    (void)objects_->Delete(SnapshotKey(name));
    (void)RemoveLogDirectory(name);
  }
  for (const std::string& name : with_params) {
    if (!ValidateIndexName(name).ok()) continue;
    auto started = std::chrono::steady_clock::now();
    auto index = LoadOne(name, workers);
    if (!index.ok()) {
      ++report.failed;
      LogError("rehydrate_skip", {{"index", name}, {"error", index.status().ToString()}});
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
  return report;
}

StorageStats IndexStorage::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace vectord::service
