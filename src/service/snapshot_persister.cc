#include "service/snapshot_persister.h"

#include <simdjson.h>

#include "common/log.h"
#include "service/index_name.h"

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
         std::string(engine::MetricName(p.metric)) + "\"}}\n";
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
  auto resolved = ResolveParams(spec);
  if (!resolved.ok()) return Status::Corruption("params file: " + resolved.status().message());
  return resolved;
}

}  // namespace

std::string SnapshotPersister::SnapshotKey(std::string_view name) {
  return std::string(kPrefix) + std::string(name) + ".hnsw";
}
std::string SnapshotPersister::ParamsKey(std::string_view name) {
  return std::string(kPrefix) + std::string(name) + ".json";
}

SnapshotPersister::SnapshotPersister(store::ObjectStore* store, PersisterOptions options)
    : store_(store), options_(options) {}

SnapshotPersister::~SnapshotPersister() { Stop(); }

void SnapshotPersister::Start() {
  std::lock_guard lock(mutex_);
  stopping_ = false;
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void SnapshotPersister::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SnapshotPersister::OnChanged(const std::shared_ptr<Index>& index) {
  {
    std::lock_guard lock(mutex_);
    pending_[index->params().name].index = index;
  }
  wake_.notify_all();
}

void SnapshotPersister::OnDropped(const std::string& name) {
  {
    std::lock_guard lock(mutex_);
    Pending& work = pending_[name];
    work.delete_first = true;
    work.index.reset();
  }
  wake_.notify_all();
}

void SnapshotPersister::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (stopping_) break;
    // Let a burst of writes gather into one snapshot.
    wake_.wait_for(lock, options_.delay, [this] { return stopping_; });
    if (stopping_) break;
    std::map<std::string, Pending> batch;
    batch.swap(pending_);
    lock.unlock();
    std::lock_guard process(process_mutex_);
    for (auto& [name, work] : batch) {
      Status s = Process(name, work);
      if (!s.ok()) {
        LogWarn("snapshot_failed", {{"index", name}, {"error", s.ToString()}});
        // Keep it for the next round unless newer work replaced it.
        std::lock_guard relock(mutex_);
        ++stats_.failures;
        auto [it, inserted] = pending_.try_emplace(name, work);
        if (!inserted && work.delete_first) it->second.delete_first = true;
      }
    }
    lock.lock();
    if (!pending_.empty()) {
      // Failed work retries after a pause, not in a tight loop.
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
  }
}

Status SnapshotPersister::Flush() {
  std::lock_guard process(process_mutex_);
  std::map<std::string, Pending> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
  }
  Status first;
  for (auto& [name, work] : batch) {
    Status s = Process(name, work);
    if (!s.ok()) {
      LogError("snapshot_failed", {{"index", name}, {"error", s.ToString()}});
      if (first.ok()) first = s;
      std::lock_guard lock(mutex_);
      pending_.try_emplace(name, work);
    }
  }
  return first;
}

Status SnapshotPersister::Process(const std::string& name, Pending& work) {
  if (work.delete_first) {
    VECTORD_RETURN_IF_ERROR(DeleteStored(name));
    work.delete_first = false;
  }
  if (work.index && !work.index->dropped()) VECTORD_RETURN_IF_ERROR(Save(*work.index));
  return Status::Ok();
}

Status SnapshotPersister::Save(Index& index) {
  const std::string& name = index.params().name;
  auto started = std::chrono::steady_clock::now();
  auto writer = store_->Create(SnapshotKey(name));
  if (!writer.ok()) return writer.status();
  CountingSink counter(**writer);
  VECTORD_RETURN_IF_ERROR(index.engine().Save(counter));
  VECTORD_RETURN_IF_ERROR((*writer)->Commit());
  std::string params = ParamsJson(index.params());
  VECTORD_RETURN_IF_ERROR(store_->Put(ParamsKey(name), params));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard lock(mutex_);
    ++stats_.snapshots;
    stats_.bytes_written += counter.bytes() + params.size();
    stats_.last_snapshot_seconds = seconds;
  }
  LogInfo(
      "snapshot_written",
      {{"index", name}, {"items", index.size()}, {"bytes", counter.bytes()}, {"seconds", seconds}});
  return Status::Ok();
}

Status SnapshotPersister::DeleteStored(const std::string& name) {
  VECTORD_RETURN_IF_ERROR(store_->Delete(ParamsKey(name)));
  VECTORD_RETURN_IF_ERROR(store_->Delete(SnapshotKey(name)));
  LogInfo("snapshot_deleted", {{"index", name}});
  return Status::Ok();
}

Result<std::shared_ptr<Index>> SnapshotPersister::LoadOne(const std::string& name) {
  auto text = store_->Get(ParamsKey(name));
  if (!text.ok()) return text.status();
  auto params = ParseParamsJson(*text);
  if (!params.ok()) return params.status();
  if (params->name != name) return Status::Corruption("params file names another index");
  auto reader = store_->Open(SnapshotKey(name));
  if (!reader.ok()) return reader.status();
  auto engine = engine::HnswIndex::Load(**reader);
  if (!engine.ok()) return engine.status().WithContext(SnapshotKey(name));
  if ((*reader)->position() != (*reader)->size()) {
    return Status::Corruption(SnapshotKey(name) + ": unexpected bytes after the end marker");
  }
  const engine::IndexOptions& o = (*engine)->options();
  if (o.dimension != params->dimension || o.metric != params->metric || o.m != params->m) {
    return Status::Corruption(SnapshotKey(name) + ": does not match its params file");
  }
  return std::make_shared<Index>(std::move(params).value(), std::move(engine).value());
}

SnapshotPersister::LoadReport SnapshotPersister::LoadAll(Registry& registry) {
  LoadReport report;
  auto keys = store_->List(kPrefix);
  if (!keys.ok()) {
    LogError("rehydrate_list_failed",
             {{"store", store_->Describe()}, {"error", keys.status().ToString()}});
    ++report.failed;
    return report;
  }
  for (const std::string& key : *keys) {
    std::string_view rest = std::string_view(key).substr(kPrefix.size());
    if (rest.size() <= 5 || rest.substr(rest.size() - 5) != ".json") continue;
    std::string name(rest.substr(0, rest.size() - 5));
    if (name.find('/') != std::string::npos || !ValidateIndexName(name).ok()) continue;
    auto started = std::chrono::steady_clock::now();
    auto index = LoadOne(name);
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
    LogInfo("rehydrated",
            {{"index", name},
             {"items", items},
             {"seconds",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
  }
  return report;
}

PersisterStats SnapshotPersister::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace vectord::service
