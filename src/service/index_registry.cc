#include "service/index_registry.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <limits>
#include <new>
#include <thread>

#include "common/log.h"
#include "service/index_name.h"
#include "service/item_id.h"
#include "service/log_records.h"

namespace vectord::service {

Result<IndexParams> ResolveParams(const CreateSpec& spec) {
  VECTORD_RETURN_IF_ERROR(ValidateIndexName(spec.name));
  // Bounds and their messages come from the engine; the numbers are checked
  // as sent (int64) before they are narrowed. 0 means "the default".
  auto check = [](std::string_view field, int64_t value, int64_t lo, int64_t hi) {
    return engine::CheckParamRange(field, value, lo, hi).WithContext("invalid index params");
  };
  IndexParams params;
  params.name = spec.name;
  VECTORD_RETURN_IF_ERROR(check("dimension", spec.dimension, 1, engine::kMaxDimension));
  params.dimension = static_cast<uint32_t>(spec.dimension);
  if (spec.m != 0) {
    VECTORD_RETURN_IF_ERROR(check("m", spec.m, engine::kMinM, engine::kMaxM));
    params.m = static_cast<uint32_t>(spec.m);
  }
  if (spec.ef_search != 0) {
    VECTORD_RETURN_IF_ERROR(check("ef_search", spec.ef_search, 1, engine::kMaxEf));
    params.ef_search = static_cast<uint32_t>(spec.ef_search);
  }
  if (spec.ef_construction != 0) {
    VECTORD_RETURN_IF_ERROR(check("ef_construction", spec.ef_construction, 1, engine::kMaxEf));
    params.ef_construction = static_cast<uint32_t>(spec.ef_construction);
  }
  if (!spec.distance.empty()) {
    auto metric = engine::ParseMetric(spec.distance);
    if (!metric) return Status::InvalidArgument("unknown distance: " + spec.distance);
    params.metric = *metric;
  }
  if (!spec.quantization.empty()) {
    auto quantization = engine::ParseQuantization(spec.quantization);
    if (!quantization) {
      return Status::InvalidArgument(
          "invalid index params: quantization must be \"none\" or \"sq8\", got \"" +
          spec.quantization + "\"");
    }
    params.quantization = *quantization;
  }
  if (!spec.vectors.empty()) {
    auto vectors = engine::ParseVectorPlacement(spec.vectors);
    if (!vectors) {
      return Status::InvalidArgument(
          "invalid index params: vectors must be \"memory\" or \"disk\", got \"" + spec.vectors +
          "\"");
    }
    params.vectors = *vectors;
  }
  if (params.vectors == engine::VectorPlacement::kDisk) {
    // The walk runs on the codes: a disk index is an SQ8 index.
    if (spec.quantization.empty()) params.quantization = engine::Quantization::kSq8;
    if (params.quantization != engine::Quantization::kSq8) {
      return Status::InvalidArgument(
          "invalid index params: vectors \"disk\" needs quantization \"sq8\"");
    }
  }
  return params;
}

IndexParams ParamsOf(std::string name, const engine::IndexOptions& options) {
  IndexParams params;
  params.name = std::move(name);
  params.dimension = options.dimension;
  params.metric = options.metric;
  params.m = options.m;
  params.ef_construction = options.ef_construction;
  params.ef_search = options.ef_search;
  params.quantization = options.quantization;
  params.vectors = options.vectors.placement;
  return params;
}

engine::IndexOptions EngineOptions(const IndexParams& params, const std::string& vector_directory) {
  engine::IndexOptions options;
  options.dimension = params.dimension;
  options.metric = params.metric;
  options.m = params.m;
  options.ef_construction = params.ef_construction;
  options.ef_search = params.ef_search;
  options.quantization = params.quantization;
  options.vectors.placement = params.vectors;
  options.vectors.directory = vector_directory;
  return options;
}

std::string_view IndexParams::distance_name() const { return engine::MetricName(metric); }

std::string_view IndexParams::quantization_name() const {
  return engine::QuantizationName(quantization);
}

std::string_view IndexParams::vectors_name() const { return engine::VectorPlacementName(vectors); }

std::string_view DurabilityName(Durability level) {
  switch (level) {
    case Durability::kFsync: return "fsync";
    case Durability::kWritten: return "written";
    case Durability::kObjectStore: return "object_store";
    case Durability::kDefault: break;
  }
  return "default";
}

Result<Durability> ParseDurability(std::string_view text) {
  if (text.empty()) return Durability::kDefault;
  if (text == "fsync") return Durability::kFsync;
  if (text == "none") return Durability::kWritten;
  if (text == "object_store") return Durability::kObjectStore;
  return Status::InvalidArgument(
      "durability must be \"object_store\", \"fsync\" or \"none\", got \"" + std::string(text) +
      "\"");
}

void ReplayCost::Add(double seconds) { seconds_.fetch_add(seconds, std::memory_order_relaxed); }

void ReplayCost::Discount(double seconds) {
  double now = seconds_.load(std::memory_order_relaxed);
  while (!seconds_.compare_exchange_weak(now, std::max(0.0, now - seconds),
                                         std::memory_order_relaxed)) {
  }
}

void ReplayCost::CheckpointSucceeded(double duration) {
  last_checkpoint_seconds_.store(duration, std::memory_order_relaxed);
  retry_at_seconds_.store(0, std::memory_order_relaxed);
}

void ReplayCost::CheckpointFailed(double budget) {
  retry_at_seconds_.store(seconds() + budget, std::memory_order_relaxed);
}

namespace {

// What one id costs in the id order (Index::ordered_ids_): a red-black tree
// node (three pointers and a colour) beside the string and its heap buffer
// when too long for the string's own.
size_t OrderedIdBytes(std::string_view id) {
  return 32 + sizeof(std::string) + (id.size() > 15 ? id.size() + 1 : 0);
}

}  // namespace

Index::Index(IndexParams params, std::unique_ptr<engine::HnswIndex> engine)
    : params_(std::move(params)), engine_(std::move(engine)) {
  no_op_sequences_.reserve(8);  // see AddNoOp
  // A loaded snapshot: index what it holds.
  std::vector<std::pair<uint32_t, std::string_view>> with_metadata;
  engine_->ForEachLive([&](uint32_t slot, std::string_view id, const std::string* payload) {
    ordered_ids_.emplace(id);
    ordered_ids_bytes_ += OrderedIdBytes(id);
    if (payload != nullptr) with_metadata.emplace_back(slot, *payload);
  });
  metadata_.AddAll(with_metadata);
}

namespace {

// (slot, metadata) pairs read back from the engine for the metadata index.
// Replaced and deleted versions stay readable as tombstones until the next
// write's consolidation, so a write can un-index what it displaced.
class SlotPayloads {
 public:
  void Add(const engine::HnswIndex& engine, uint32_t slot) {
    auto payload = engine.PayloadAt(slot);
    if (!payload) return;
    texts_.push_back(std::move(*payload));  // a deque keeps earlier views valid
    items_.emplace_back(slot, texts_.back());
  }
  const std::vector<std::pair<uint32_t, std::string_view>>& items() const { return items_; }

 private:
  std::deque<std::string> texts_;
  std::vector<std::pair<uint32_t, std::string_view>> items_;
};

}  // namespace

Status Index::ApplyUpsert(std::span<const engine::ItemInput> inputs, ThreadPool* workers) {
  std::vector<engine::SlotChange> changes;
  VECTORD_RETURN_IF_ERROR(engine_->Upsert(inputs, workers, &changes));
  SlotPayloads removed, added;
  for (const engine::SlotChange& change : changes) {
    if (change.replaced_slot) removed.Add(*engine_, *change.replaced_slot);
    added.Add(*engine_, change.slot);
  }
  metadata_.RemoveAll(removed.items());
  metadata_.AddAll(added.items());
  std::unique_lock ids(ordered_ids_mutex_);
  for (const engine::ItemInput& input : inputs) {
    if (ordered_ids_.find(input.id) == ordered_ids_.end()) {
      ordered_ids_.emplace(input.id);
      ordered_ids_bytes_ += OrderedIdBytes(input.id);
    }
  }
  return Status::Ok();
}

size_t Index::ApplyDelete(std::span<const std::string_view> ids) {
  std::vector<uint32_t> freed = engine_->Remove(ids);
  SlotPayloads removed;
  for (uint32_t slot : freed) removed.Add(*engine_, slot);
  metadata_.RemoveAll(removed.items());
  std::unique_lock lock(ordered_ids_mutex_);
  for (std::string_view id : ids) {
    auto it = ordered_ids_.find(id);
    if (it != ordered_ids_.end() && !engine_->Contains(id)) {
      ordered_ids_bytes_ -= OrderedIdBytes(id);
      ordered_ids_.erase(it);
    }
  }
  return freed.size();
}

void Index::AttachLog(std::unique_ptr<store::LogWriter> log, bool fsync_by_default,
                      bool ship_by_default) {
  std::lock_guard lock(apply_mutex_);
  log_ = std::move(log);
  fsync_by_default_ = fsync_by_default;
  ship_by_default_ = ship_by_default && log_->shipper() != nullptr;
  next_apply_ = log_->last_sequence() + 1;
}

void Index::SetAppliedSequence(uint64_t sequence) {
  applied_sequence_.store(sequence, std::memory_order_release);
}

void Index::AttachCommitLog(std::shared_ptr<CommitLog> commit_log) {
  std::lock_guard lock(apply_mutex_);
  commit_log_ = std::move(commit_log);
}

namespace {

std::vector<engine::ItemInput> AsInputs(std::span<const NewItem> items) {
  std::vector<engine::ItemInput> inputs;
  inputs.reserve(items.size());
  for (const NewItem& item : items) {
    std::optional<std::string_view> payload;
    if (item.metadata) payload = *item.metadata;
    inputs.push_back({item.id, item.vector, payload});
  }
  return inputs;
}

// How long a failed write waits for its cancel record to reach the object
// store before answering "outcome unknown" (docs/API.md).
constexpr std::chrono::milliseconds kCancelUploadWait{2000};
}  // namespace

template <typename Apply>
Result<std::string_view> Index::LogThenApply(store::log_format::RecordType type,
                                             const std::string& payload, Durability durability,
                                             Apply&& apply, uint64_t* sequence_out) {
  if (durability == Durability::kDefault) {
    durability = ship_by_default_    ? Durability::kObjectStore
                 : fsync_by_default_ ? Durability::kFsync
                                     : Durability::kWritten;
  }
  if (durability == Durability::kObjectStore && log_->shipper() == nullptr) {
    return Status::InvalidArgument(
        "durability=object_store needs an object store (vectord.storaged_url)");
  }
  VECTORD_ASSIGN_OR_RETURN(const uint64_t sequence, log_->Append(type, payload));
  *sequence_out = sequence;
  // The upload started at Append, so under the fsync policy the local fsync
  // runs while the record travels to the bucket; the object-store level then
  // waits for both (the disk copy keeps the next start-up from having to
  // fetch the log from the bucket).
  Status durable;
  if (durability == Durability::kFsync ||
      (durability == Durability::kObjectStore && fsync_by_default_)) {
    durable = log_->Sync(sequence);
  }
  if (durable.ok() && durability == Durability::kObjectStore) {
    durable = log_->WaitShipped(sequence);
  }
  if (!durable.ok()) {
    // The record stays in the log but will not be applied: tell replay to
    // skip it too, so a restart cannot resurrect a write that failed.
    auto cancel = AppendCancel(sequence);
    if (cancel.ok()) {
      {
        // The cancel record takes a sequence number no write will claim.
        std::lock_guard lock(apply_mutex_);
        AddNoOp(*cancel);
      }
      // A failed upload leaves the record queued, and it may still reach the
      // bucket; the cancel must be on disk before the 503 goes out, or a
      // machine crash could bring the write back. Best effort: after a failed
      // fsync this may fail too, and the disk is then the operator's problem.
      if (durability == Durability::kObjectStore) (void)log_->Sync(*cancel);
    }
    durable = CancelShipped(std::move(durable), cancel);
  }

  // Apply in log order, so that replay after a crash rebuilds exactly this
  // state. A record that did not become durable is skipped, never applied.
  std::unique_lock lock(apply_mutex_);
  apply_turn_.wait(lock, [&] { return next_apply_ == sequence; });
  Status applied = durable;
  bool apply_failed = false;
  Result<uint64_t> cancel = Status::Ok();
  {
    // The turn passes on however this block is left (an allocation that
    // fails below), or every later writer of this index would wait forever.
    // Left by an exception, the record stays in the log uncancelled: the
    // write is then applied whole when the index is rebuilt from it.
    struct PassTurn {
      Index& index;
      uint64_t sequence;
      std::unique_lock<std::mutex>& lock;
      ~PassTurn() {
        index.next_apply_ = sequence + 1;
        while (index.TakeNoOp(index.next_apply_)) ++index.next_apply_;
        lock.unlock();
        index.apply_turn_.notify_all();
      }
    } pass{*this, sequence, lock};
    if (applied.ok()) {
      const auto started = std::chrono::steady_clock::now();
      try {
        applied = apply();
      } catch (const std::exception& e) {
        diverged_.store(true, std::memory_order_release);
        applied =
            dynamic_cast<const std::bad_alloc*>(&e) != nullptr
                ? Status::NoSpace("out of memory applying the write")
                : Status::Internal(std::string("applying a logged write failed: ") + e.what());
      }
      apply_failed = !applied.ok();
      // What replaying this record after a restart would cost, about.
      replay_cost_.Add(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    // A durable record that could not be applied is cancelled like one that
    // did not become durable: the answer is a failure, so a restart must not
    // apply it either. (The engine checks a batch and reserves its room
    // before the log, so this is an allocation that failed part way, or a
    // bug.)
    if (apply_failed) {
      cancel = AppendCancel(sequence);
      if (cancel.ok()) AddNoOp(*cancel);
    }
    if (applied.ok()) applied_sequence_.store(sequence, std::memory_order_release);
  }
  if (apply_failed) {
    if (!cancel.ok()) {
      return applied.WithSuffix(
          "; outcome unknown: the write is in the log and its cancellation could not be "
          "written (" +
          cancel.status().message() + "), so a restart may apply it");
    }
    if (durability == Durability::kFsync || durability == Durability::kObjectStore) {
      Status synced = log_->Sync(*cancel);
      if (!synced.ok()) {
        return applied.WithSuffix(
            "; outcome unknown: the cancellation of the logged write could not be synced (" +
            synced.message() + "), so a restart may apply it");
      }
    }
    applied = CancelShipped(std::move(applied), cancel);
    if (diverged()) {
      return applied.WithSuffix("; the write is cancelled, and index " + params_.name +
                                " is reloaded from its snapshot and log before its next use");
    }
    return applied;
  }
  if (!applied.ok()) return applied;
  return DurabilityName(durability);
}

void Index::AddNoOp(uint64_t sequence) {
  // Room was reserved: when memory is short this does not allocate.
  no_op_sequences_.push_back(sequence);
}

bool Index::TakeNoOp(uint64_t sequence) {
  auto it = std::find(no_op_sequences_.begin(), no_op_sequences_.end(), sequence);
  if (it == no_op_sequences_.end()) return false;
  *it = no_op_sequences_.back();
  no_op_sequences_.pop_back();
  return true;
}

Result<uint64_t> Index::AppendCancel(uint64_t sequence) {
  const uint64_t canceled[] = {sequence};
  try {
    return log_->Append(store::log_format::RecordType::kCancel, EncodeCancel(canceled));
  } catch (const std::bad_alloc&) {
    return Status::NoSpace("out of memory");
  }
}

Status Index::CancelShipped(Status failure, const Result<uint64_t>& cancel) {
  // With an object store the record itself is queued for upload whatever
  // its level, and may have landed already (a reply lost after the PUT
  // succeeded). Until the cancel lands after it, a host rebuilt from the
  // bucket alone (this disk lost) would apply the write this answer
  // reports as failed: wait a little for it, then say so.
  store::LogShipper* shipper = log_->shipper();
  if (shipper == nullptr || failure.code() == StatusCode::kNotFound) return failure;
  if (cancel.ok() && shipper->WaitShippedFor(*cancel, kCancelUploadWait).ok()) return failure;
  return Status::Unavailable(
      failure.message() +
      "; outcome unknown: the write is not applied here, but the object store may hold it "
      "and does not yet hold its cancellation (still being retried) — until it does, a "
      "rebuild of this index from the object store alone could apply it; retry the write "
      "(adds replace by id, deletes are idempotent)");
}

Status Index::ApplyCommitted(const store::LogRecord& record, ThreadPool* workers) {
  Status applied;
  std::unique_lock lock(apply_mutex_);
  if (record.sequence <= applied_sequence_.load(std::memory_order_acquire)) return applied;
  switch (record.type) {
    case store::log_format::RecordType::kUpsert: {
      VECTORD_ASSIGN_OR_RETURN(std::vector<NewItem> items,
                               DecodeUpsert(record.payload, params_.dimension));
      std::vector<engine::ItemInput> inputs = AsInputs(items);
      applied = ApplyUpsert(inputs, workers);
      if (applied.ok()) stats_.RecordAdded(items.size());
      break;
    }
    case store::log_format::RecordType::kDelete: {
      VECTORD_ASSIGN_OR_RETURN(std::vector<std::string> ids, DecodeDelete(record.payload));
      std::vector<std::string_view> views(ids.begin(), ids.end());
      stats_.RecordDeleted(ApplyDelete(views));
      break;
    }
    case store::log_format::RecordType::kCancel:
      break;  // a cluster log has none; nothing to apply either way
  }
  if (!applied.ok()) return applied;
  changes_.fetch_add(1, std::memory_order_acq_rel);
  applied_sequence_.store(record.sequence, std::memory_order_release);
  lock.unlock();
  apply_turn_.notify_all();
  return applied;
}

bool Index::WaitApplied(uint64_t sequence, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(apply_mutex_);
  return apply_turn_.wait_until(lock, deadline, [&] {
    return applied_sequence_.load(std::memory_order_acquire) >= sequence;
  });
}

template <typename Apply>
Result<uint64_t> Index::CommitThenApply(store::log_format::RecordType type, std::string payload,
                                        Apply&& apply) {
  return commit_log_->Commit(type, std::move(payload), [&](uint64_t sequence) -> Status {
    std::unique_lock lock(apply_mutex_);
    // A new writer's follower may have applied it from the bucket already.
    if (sequence <= applied_sequence_.load(std::memory_order_acquire)) return Status::Ok();
    Status applied;
    try {
      applied = apply();
    } catch (const std::exception& e) {
      applied = Status::Internal(std::string("applying a committed write failed: ") + e.what());
    }
    // A committed record counts as applied even if applying it failed here:
    // the others have it, and this node's copy is then reloaded by the
    // operator; holding the sequence back would stall every later write.
    applied_sequence_.store(sequence, std::memory_order_release);
    lock.unlock();
    apply_turn_.notify_all();
    return applied;
  });
}

Result<WriteResult> Index::Add(std::span<const NewItem> items, ThreadPool* workers,
                               Durability durability) {
  if (items.empty()) return Status::InvalidArgument("items must be non-empty");
  std::vector<engine::ItemInput> inputs = AsInputs(items);
  // The whole batch is checked before anything is logged or applied.
  for (size_t j = 0; j < items.size(); ++j) {
    if (items[j].id.empty()) continue;  // the engine's check names it first
    Status id = ValidateItemId(items[j].id);
    if (!id.ok())
      return Status::InvalidArgument("items[" + std::to_string(j) + "]: " + id.message());
  }
  VECTORD_RETURN_IF_ERROR(engine_->ValidateItems(inputs));
  // Growth can fail (memory, the vector file's disk): before the log, so
  // that a logged write is never one that cannot be applied.
  VECTORD_RETURN_IF_ERROR(engine_->Reserve(inputs.size()));
  WriteResult result;
  result.affected = items.size();
  if (commit_log_) {
    VECTORD_ASSIGN_OR_RETURN(
        result.sequence,
        CommitThenApply(store::log_format::RecordType::kUpsert, EncodeUpsert(items),
                        [&] { return ApplyUpsert(inputs, workers); }));
    result.durability = DurabilityName(Durability::kObjectStore);
  } else if (!log_) {
    std::lock_guard lock(apply_mutex_);
    try {
      VECTORD_RETURN_IF_ERROR(ApplyUpsert(inputs, workers));
    } catch (const std::bad_alloc&) {
      // Without a log there is nothing to rebuild a clean copy from.
      return Status::NoSpace("out of memory applying the write; index " + params_.name +
                             " has no persistence and may hold part of the batch");
    }
    result.durability = "none";
  } else {
    VECTORD_ASSIGN_OR_RETURN(
        result.durability,
        LogThenApply(
            store::log_format::RecordType::kUpsert, EncodeUpsert(items), durability,
            [&] { return ApplyUpsert(inputs, workers); }, &result.sequence));
  }
  changes_.fetch_add(1, std::memory_order_acq_rel);
  stats_.RecordAdded(items.size());
  result.length = engine_->size();
  return result;
}

Result<WriteResult> Index::Remove(std::span<const std::string> ids, Durability durability) {
  if (ids.empty()) return Status::InvalidArgument("ids must be non-empty");
  for (size_t j = 0; j < ids.size(); ++j) {
    Status id = ValidateItemId(ids[j]);
    if (!id.ok()) return Status::InvalidArgument("ids[" + std::to_string(j) + "]: " + id.message());
  }
  std::vector<std::string_view> views(ids.begin(), ids.end());
  WriteResult result;
  auto remove = [&] {
    result.affected = ApplyDelete(views);
    return Status::Ok();
  };
  if (commit_log_) {
    VECTORD_ASSIGN_OR_RETURN(
        result.sequence,
        CommitThenApply(store::log_format::RecordType::kDelete, EncodeDelete(ids), remove));
    result.durability = DurabilityName(Durability::kObjectStore);
  } else if (!log_) {
    std::lock_guard lock(apply_mutex_);
    (void)remove();
    result.durability = "none";
  } else {
    VECTORD_ASSIGN_OR_RETURN(result.durability,
                             LogThenApply(store::log_format::RecordType::kDelete, EncodeDelete(ids),
                                          durability, remove, &result.sequence));
  }
  changes_.fetch_add(1, std::memory_order_acq_rel);
  stats_.RecordDeleted(result.affected);
  result.length = engine_->size();
  return result;
}

Status Index::ReplayUpsert(std::span<const NewItem> items, ThreadPool* workers) {
  std::vector<engine::ItemInput> inputs = AsInputs(items);
  VECTORD_RETURN_IF_ERROR(ApplyUpsert(inputs, workers));
  changes_.fetch_add(1, std::memory_order_acq_rel);
  return Status::Ok();
}

void Index::ReplayDelete(std::span<const std::string> ids) {
  std::vector<std::string_view> views(ids.begin(), ids.end());
  ApplyDelete(views);
  changes_.fetch_add(1, std::memory_order_acq_rel);
}

Result<std::vector<SearchHit>> Index::Search(const SearchSpec& spec) const {
  const auto start = std::chrono::steady_clock::now();
  engine::SearchOptions options;
  options.k = spec.k <= 0 ? kDefaultK : std::min<size_t>(static_cast<size_t>(spec.k), kMaxK);
  options.ef = spec.ef;
  options.with_payload = spec.include_metadata;
  options.with_vector = spec.include_vector;
  Result<std::vector<engine::SearchResult>> results = [&] {
    if (spec.filter == nullptr) return engine_->Search(spec.vector, options);
    const engine::SlotBitset passing =
        metadata_.Evaluate(*spec.filter, engine_->slot_count(),
                           [this](std::string_view id) { return engine_->SlotOf(id); });
    options.filter = &passing;
    return engine_->Search(spec.vector, options);
  }();
  if (!results.ok()) return results.status();
  const auto now = std::chrono::steady_clock::now();
  stats_.RecordSearch(std::chrono::duration<double>(now - start).count(), now);
  // Filtered searches answer a different question than recall@10 over the
  // whole index; only plain ones are sampled.
  if (spec.filter == nullptr) {
    recall_.OfferQuery(spec.vector, spec.ef, recall_sample_rate_.load(std::memory_order_relaxed));
  }
  std::vector<SearchHit> hits;
  hits.reserve(results->size());
  for (engine::SearchResult& r : *results) {
    hits.push_back({std::move(r.id), r.distance, std::move(r.payload), std::move(r.vector)});
  }
  return hits;
}

std::optional<StoredItem> Index::Get(std::string_view id) const {
  std::optional<engine::Item> item = engine_->Get(id);
  if (!item) return std::nullopt;
  return StoredItem{std::move(item->id), std::move(item->vector), std::move(item->payload)};
}

ScrollPage Index::Scroll(std::string_view after, size_t limit, bool include_vector) const {
  ScrollPage page;
  std::vector<std::string> ids;
  {
    std::shared_lock lock(ordered_ids_mutex_);
    auto it = after.empty() ? ordered_ids_.begin() : ordered_ids_.upper_bound(after);
    for (; it != ordered_ids_.end() && ids.size() < limit; ++it) ids.push_back(*it);
    if (it != ordered_ids_.end() && !ids.empty()) page.next_after = ids.back();
  }
  page.items.reserve(ids.size());
  for (const std::string& id : ids) {
    std::optional<StoredItem> item = Get(id);
    if (!item) continue;  // deleted since: it did not live through the scroll
    if (!include_vector) item->vector.clear();
    page.items.push_back(std::move(*item));
  }
  return page;
}

size_t Index::auxiliary_memory_bytes() const {
  size_t bytes = metadata_.memory_bytes();
  std::shared_lock lock(ordered_ids_mutex_);
  return bytes + ordered_ids_bytes_;
}

size_t Index::budget_bytes() const {
  // The metadata index is measured by walking it; re-measure once the index
  // has changed by an eighth of its size since, so that the cost per write
  // stays constant and the figure within about an eighth of the truth.
  const uint64_t changes = change_count();
  if (changes >= metadata_measured_at_.load(std::memory_order_relaxed) + size() / 8 + 1 ||
      changes == 0) {
    metadata_bytes_.store(metadata_.memory_bytes(), std::memory_order_relaxed);
    metadata_measured_at_.store(changes, std::memory_order_relaxed);
  }
  size_t ids;
  {
    std::shared_lock lock(ordered_ids_mutex_);
    ids = ordered_ids_bytes_;
  }
  // What every index costs beside its data (this object, its log writer,
  // the engine's fixed parts; bench/RESULTS.md, "Many indexes": about 4.7 KB
  // of RSS per empty index), so that many small indexes count for what they
  // hold.
  constexpr size_t kFixedBytes = 4096;
  return kFixedBytes + engine_->memory_usage().total() + ids +
         metadata_bytes_.load(std::memory_order_relaxed);
}

size_t Index::memory_bytes() const {
  return engine_->memory_usage().total() + auxiliary_memory_bytes();
}

size_t Index::disk_vector_bytes() const { return engine_->memory_usage().disk_vector_bytes; }

int64_t Registry::Now() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

void Registry::Transition::Finish() {
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  done_cv.notify_all();
}

void Registry::Transition::Wait() {
  std::unique_lock lock(mutex);
  done_cv.wait(lock, [this] { return done; });
}

Registry::~Registry() { StopBackground(); }

void Registry::SetLoadedLocked(Entry& entry, std::shared_ptr<Index> index, size_t bytes, bool use) {
  index->set_recall_sample_rate(recall_sample_rate_.load(std::memory_order_relaxed));
  entry.budget_bytes = bytes;
  entry.items.reset();
  entry.index = std::move(index);
  entry.last_used.store(use ? Now() : 0, std::memory_order_relaxed);
  loaded_bytes_ += bytes;
  ++loaded_count_;
}

std::shared_ptr<Index> Registry::TakeLoadedLocked(Entry& entry) {
  loaded_bytes_ -= entry.budget_bytes;
  entry.budget_bytes = 0;
  --loaded_count_;
  entry.items = entry.index->size();
  return std::exchange(entry.index, nullptr);
}

Result<std::shared_ptr<Index>> Registry::Create(const CreateSpec& spec) {
  VECTORD_ASSIGN_OR_RETURN(IndexParams params, ResolveParams(spec));
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<engine::HnswIndex> engine,
                           engine::HnswIndex::Create(EngineOptions(params, vector_directory_)));
  auto index = std::make_shared<Index>(std::move(params), std::move(engine));
  const std::string& name = index->params().name;

  // The name may be one the bucket holds and its listing has not reached.
  VECTORD_RETURN_IF_ERROR(WaitDiscovered());
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (Contains(name)) return Status::AlreadyExists("index already exists: " + name);
  if (auto failure = FailureOf(name)) {
    return Status::AlreadyExists("index failed to load: " + *failure);
  }
  // Durable before it is visible: a crash after the 201 still has the index.
  if (Persistence* p = persistence()) VECTORD_RETURN_IF_ERROR(p->OnCreate(*index));
  const size_t bytes = index->budget_bytes();
  {
    std::unique_lock lock(mutex_);
    SetLoadedLocked(indexes_[name], index, bytes);
  }
  WakeUnloadingIfOver();
  return index;
}

Status Registry::Register(std::shared_ptr<Index> index) {
  const size_t bytes = index->budget_bytes();
  std::unique_lock lock(mutex_);
  auto [it, inserted] = indexes_.try_emplace(index->params().name);
  if (!inserted) return Status::AlreadyExists("index already exists: " + it->first);
  SetLoadedLocked(it->second, std::move(index), bytes);
  return Status::Ok();
}

Status Registry::RegisterUnloaded(std::string name) {
  std::unique_lock lock(mutex_);
  auto [it, inserted] = indexes_.try_emplace(std::move(name));
  if (!inserted) return Status::AlreadyExists("index already exists: " + it->first);
  return Status::Ok();
}

void Registry::RegisterFailed(std::string name, const Status& error) {
  std::unique_lock lock(mutex_);
  failed_[std::move(name)] = error.message();
}

bool Registry::ClearFailure(std::string_view name) {
  std::unique_lock lock(mutex_);
  auto it = failed_.find(name);
  if (it == failed_.end()) return false;
  failed_.erase(it);
  return true;
}

std::vector<Registry::FailedIndex> Registry::Failed() const {
  std::shared_lock lock(mutex_);
  std::vector<FailedIndex> failed;
  failed.reserve(failed_.size());
  for (const auto& [name, error] : failed_) failed.push_back({name, error});
  return failed;
}

std::optional<std::string> Registry::FailureOf(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = failed_.find(name);
  if (it == failed_.end()) return std::nullopt;
  return it->second;
}

Status Registry::AbsentLocked(std::string_view name) const {
  if (auto it = failed_.find(name); it != failed_.end()) {
    return Status::Unavailable("index failed to load: " + it->second);
  }
  return Status::NotFound("not found");
}

Result<std::shared_ptr<Index>> Registry::Open(std::string_view name) {
  bool diverged = false;
  {
    std::shared_lock lock(mutex_);
    auto it = indexes_.find(name);
    if (it == indexes_.end()) {
      Status absent = AbsentLocked(name);
      lock.unlock();
      if (absent.code() != StatusCode::kNotFound) return absent;
      // Perhaps one the bucket's listing has not registered yet — or has
      // just registered, so look again either way.
      if (discovering()) VECTORD_RETURN_IF_ERROR(WaitDiscovered());
      lock.lock();
      it = indexes_.find(name);
      if (it == indexes_.end()) return AbsentLocked(name);
    }
    if (it->second.index) {
      diverged = it->second.index->diverged();
      if (!diverged) {
        it->second.last_used.store(Now(), std::memory_order_relaxed);
        return it->second.index;
      }
    }
  }
  if (diverged) VECTORD_RETURN_IF_ERROR(UnloadDiverged(std::string(name)));
  return Load(std::string(name));
}

void Registry::SetDiscovering(bool discovering) {
  {
    std::lock_guard lock(discovery_mutex_);
    discovering_ = discovering;
  }
  discovered_.notify_all();
}

Status Registry::WaitDiscovered() const {
  std::unique_lock lock(discovery_mutex_);
  if (discovered_.wait_for(lock, kDiscoveryWait, [this] { return !discovering_; })) {
    return Status::Ok();
  }
  return Status::Unavailable(
      "the object store is still being listed at start-up (indexes only it holds are not known "
      "yet); retry");
}

Status Registry::UnloadDiverged(const std::string& name) {
  // Operations that hold it already finish on it first (they may see part
  // of the failed write); new ones wait here for the clean copy.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!UnloadIfIdle(name)) {
    std::shared_ptr<Index> loaded = FindLoaded(name);
    if (loaded == nullptr || !loaded->diverged()) return Status::Ok();  // another caller did it
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("index " + name +
                                 " is being reloaded after a write that failed part way; retry");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  LogWarn("index_reloading_after_failed_write", {{"index", name}});
  return Status::Ok();
}

Result<std::shared_ptr<Index>> Registry::Load(const std::string& name, bool use) {
  std::shared_ptr<Transition> mine;
  while (mine == nullptr) {
    std::shared_ptr<Transition> other;
    {
      std::unique_lock lock(mutex_);
      auto it = indexes_.find(name);
      if (it == indexes_.end()) return AbsentLocked(name);
      Entry& entry = it->second;
      if (entry.index) {
        if (use) entry.last_used.store(Now(), std::memory_order_relaxed);
        return entry.index;
      }
      if (entry.transition) {
        other = entry.transition;
      } else {
        mine = std::make_shared<Transition>();
        entry.transition = mine;
      }
    }
    if (other) other->Wait();  // another caller's load, or an unload to finish first
  }
  const auto started = std::chrono::steady_clock::now();
  Persistence* p = persistence();
  Result<std::shared_ptr<Index>> loaded =
      Status::Unavailable("index " + name + " is not loaded yet: the server is starting");
  if (p != nullptr) {
    try {
      loaded = p->OnLoad(name, workers_);
    } catch (const std::bad_alloc&) {
      loaded = Status::NoSpace("out of memory loading index " + name);
    } catch (const std::exception& e) {
      // Whatever happened, the transition must finish: waiters would hang.
      loaded = Status::Internal("loading index " + name + ": " + e.what());
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const size_t bytes = loaded.ok() ? (*loaded)->budget_bytes() : 0;
  // A store that does not answer, or a resource that ran out, may come back:
  // the index stays unloaded and the next use tries again. Anything else is
  // damage, reported as today's start-up reports it.
  const bool transient = !loaded.ok() && (loaded.status().code() == StatusCode::kUnavailable ||
                                          loaded.status().code() == StatusCode::kNoSpace);
  {
    std::unique_lock lock(mutex_);
    auto it = indexes_.find(name);
    if (it != indexes_.end()) {
      it->second.transition.reset();
      if (loaded.ok()) {
        SetLoadedLocked(it->second, *loaded, bytes, use);
        ++loading_.loads;
        loading_.load_seconds += seconds;
        for (size_t i = 0; i < std::size(LoadingStats::kLoadSecondsBounds); ++i) {
          if (seconds <= LoadingStats::kLoadSecondsBounds[i]) ++loading_.loads_within[i];
        }
      } else {
        ++loading_.load_failures;
        if (!transient) {
          indexes_.erase(it);
          failed_[name] = loaded.status().message();
        }
      }
    }
  }
  mine->Finish();
  if (!loaded.ok()) {
    LogError("index_load_failed", {{"index", name}, {"error", loaded.status().ToString()}});
    if (!transient)
      return Status::Unavailable("index failed to load: " + loaded.status().message());
    return loaded.status();
  }
  LogInfo("index_loaded", {{"index", name}, {"items", (*loaded)->size()}, {"seconds", seconds}});
  const size_t limit = memory_limit_.load(std::memory_order_relaxed);
  if (limit != 0 && bytes > limit) {
    LogWarn("index_larger_than_memory_limit",
            {{"index", name}, {"bytes", bytes}, {"memory_limit", limit}});
  }
  WakeUnloadingIfOver();
  return loaded;
}

std::shared_ptr<Index> Registry::Find(std::string_view name) {
  auto index = Open(name);
  return index.ok() ? std::move(index).value() : nullptr;
}

std::shared_ptr<Index> Registry::FindLoaded(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = indexes_.find(name);
  return it == indexes_.end() ? nullptr : it->second.index;
}

std::optional<Registry::Summary> Registry::Describe(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = indexes_.find(name);
  if (it == indexes_.end()) return std::nullopt;
  return Summary{it->second.index != nullptr, it->second.index, it->second.items};
}

Result<IndexParams> Registry::StoredParams(std::string_view name) const {
  Persistence* p = persistence();
  if (p == nullptr) return Status::NotFound("not found");
  return p->StoredParams(std::string(name));
}

bool Registry::Contains(std::string_view name) const {
  std::shared_lock lock(mutex_);
  return indexes_.find(name) != indexes_.end();
}

std::vector<std::string> Registry::Names() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> names;
  names.reserve(indexes_.size());
  for (const auto& [name, entry] : indexes_) names.push_back(name);
  return names;  // std::map keeps them sorted
}

std::vector<std::shared_ptr<Index>> Registry::All() const {
  std::shared_lock lock(mutex_);
  std::vector<std::shared_ptr<Index>> all;
  all.reserve(loaded_count_);
  for (const auto& [name, entry] : indexes_) {
    if (entry.index) all.push_back(entry.index);
  }
  return all;
}

size_t Registry::count() const {
  std::shared_lock lock(mutex_);
  return indexes_.size();
}

LoadingStats Registry::loading_stats() const {
  std::shared_lock lock(mutex_);
  LoadingStats stats = loading_;
  stats.loaded_indexes = loaded_count_;
  stats.loaded_bytes = loaded_bytes_;
  stats.memory_limit = memory_limit_.load(std::memory_order_relaxed);
  return stats;
}

Status Registry::Drop(std::string_view name) {
  // A listing of the bucket still under way could bring the name back.
  VECTORD_RETURN_IF_ERROR(WaitDiscovered());
  std::lock_guard lifecycle(lifecycle_mutex_);
  auto quarantine = [&]() -> Status {
    if (Persistence* p = persistence()) {
      VECTORD_RETURN_IF_ERROR(p->OnQuarantine(std::string(name)).status());
    }
    std::unique_lock lock(mutex_);
    if (auto it = failed_.find(name); it != failed_.end()) failed_.erase(it);
    return Status::Ok();
  };
  if (!Contains(name) && FailureOf(name)) return quarantine();
  // An unloaded index is loaded first: its drop closes its log and removes
  // its files as a loaded one's does.
  auto opened = Open(name);
  if (!opened.ok()) {
    if (FailureOf(name)) return quarantine();  // it failed to load just now
    return opened.status();
  }
  std::shared_ptr<Index> index = std::move(opened).value();
  if (Persistence* p = persistence()) VECTORD_RETURN_IF_ERROR(p->OnDrop(*index));
  {
    std::unique_lock lock(mutex_);
    // Forget (a cluster replica's drop) does not wait for lifecycle_mutex_.
    if (auto it = indexes_.find(name); it != indexes_.end() && it->second.index == index) {
      TakeLoadedLocked(it->second);
      indexes_.erase(it);
    }
  }
  index->MarkDropped();
  return Status::Ok();
}

std::shared_ptr<Index> Registry::Forget(std::string_view name) {
  // Not under lifecycle_mutex_: the cluster calls it with its own lock held,
  // which a create's OnCreate takes under lifecycle_mutex_.
  std::shared_ptr<Index> index;
  {
    std::unique_lock lock(mutex_);
    auto it = indexes_.find(name);
    if (it == indexes_.end()) return nullptr;
    if (it->second.index) index = TakeLoadedLocked(it->second);
    indexes_.erase(it);
  }
  if (index) index->MarkDropped();
  return index;
}

bool Registry::Replace(const std::shared_ptr<Index>& old, std::shared_ptr<Index> index) {
  const size_t bytes = index->budget_bytes();
  std::unique_lock lock(mutex_);
  auto it = indexes_.find(old->params().name);
  if (it == indexes_.end() || it->second.index != old) return false;
  TakeLoadedLocked(it->second);
  SetLoadedLocked(it->second, std::move(index), bytes);
  return true;
}

Result<Recovered> Registry::Recover(std::string_view name) {
  // A listing of the bucket still under way could bring the name back.
  VECTORD_RETURN_IF_ERROR(WaitDiscovered());
  std::lock_guard lifecycle(lifecycle_mutex_);
  // An index not read since start-up may be damaged without anyone knowing
  // yet: load it to find out.
  if (Contains(name)) {
    auto opened = Open(name);
    if (opened.ok()) {
      return Status::AlreadyExists("index " + std::string(name) +
                                   " is loaded: only an index that failed to load is recovered");
    }
    if (Contains(name)) return opened.status();  // a store that did not answer
  }
  if (!FailureOf(name)) return Status::NotFound("not found");
  Persistence* p = persistence();
  if (p == nullptr) return Status::Unavailable("no storage to recover from");
  VECTORD_ASSIGN_OR_RETURN(Recovered recovered, p->OnRecover(std::string(name), workers_));
  const size_t bytes = recovered.index->budget_bytes();
  std::unique_lock lock(mutex_);
  failed_.erase(failed_.find(name));
  SetLoadedLocked(indexes_[std::string(name)], recovered.index, bytes);
  return recovered;
}

void Registry::Account(const std::shared_ptr<Index>& index) {
  const size_t bytes = index->budget_bytes();
  {
    std::unique_lock lock(mutex_);
    auto it = indexes_.find(index->params().name);
    if (it == indexes_.end() || it->second.index != index) return;
    loaded_bytes_ = loaded_bytes_ - it->second.budget_bytes + bytes;
    it->second.budget_bytes = bytes;
  }
  WakeUnloadingIfOver();
}

void Registry::WakeUnloadingIfOver() {
  const size_t limit = memory_limit_.load(std::memory_order_relaxed);
  if (limit == 0) return;
  {
    std::shared_lock lock(mutex_);
    if (loaded_bytes_ <= limit) return;
  }
  {
    std::lock_guard lock(unloading_mutex_);
    unloading_requested_ = true;
  }
  unloading_wake_.notify_one();
}

bool Registry::Unload(std::string_view name) { return UnloadIfIdle(std::string(name)); }

bool Registry::UnloadIfIdle(const std::string& name) {
  Persistence* p = persistence();
  if (p == nullptr || !p->CanUnload()) return false;
  std::shared_ptr<Index> victim;
  auto transition = std::make_shared<Transition>();
  size_t bytes = 0;
  {
    std::unique_lock lock(mutex_);
    auto it = indexes_.find(name);
    if (it == indexes_.end()) return false;
    Entry& entry = it->second;
    // Held by the registry alone: no operation has it, and none can get it
    // without this lock.
    if (!entry.index || entry.transition || entry.index.use_count() != 1) return false;
    bytes = entry.budget_bytes;
    victim = TakeLoadedLocked(entry);
    entry.transition = transition;  // a load of the name waits for the unload
  }
  Status unloaded;
  try {
    unloaded = p->OnUnload(victim);
  } catch (const std::exception& e) {
    unloaded = Status::Internal(std::string("unloading: ") + e.what());
  }
  if (unloaded.ok()) {
    // A background pass of the persistence (an interval fsync) may have
    // taken a reference from its own list before OnUnload removed it there;
    // it lets go within one pass. The index must be gone — its log closed,
    // its shipper stopped — before a new load of the name opens them.
    while (victim.use_count() > 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    victim.reset();
  }
  {
    std::unique_lock lock(mutex_);
    auto it = indexes_.find(name);  // still there: a drop loads it first, and waits
    if (it != indexes_.end()) {
      it->second.transition.reset();
      if (!unloaded.ok()) SetLoadedLocked(it->second, std::move(victim), bytes);
    }
    ++(unloaded.ok() ? loading_.evictions : loading_.eviction_failures);
  }
  transition->Finish();
  if (!unloaded.ok()) {
    LogWarn("index_unload_failed", {{"index", name}, {"error", unloaded.ToString()}});
  }
  return unloaded.ok();
}

size_t Registry::UnloadDownTo(size_t target) {
  std::vector<std::pair<int64_t, std::string>> candidates;
  {
    std::shared_lock lock(mutex_);
    if (loaded_bytes_ <= target) return 0;
    int64_t newest = std::numeric_limits<int64_t>::min();
    for (const auto& [name, entry] : indexes_) {
      if (entry.index) newest = std::max(newest, entry.last_used.load(std::memory_order_relaxed));
    }
    for (const auto& [name, entry] : indexes_) {
      if (!entry.index || entry.transition || entry.index.use_count() != 1) continue;
      const int64_t used = entry.last_used.load(std::memory_order_relaxed);
      // The index used last stays: one larger than the limit is served alone
      // rather than unloaded after every request. (Background loads are not
      // uses: with no use since start-up, no index is protected.)
      if (used == newest && newest > 0) continue;
      candidates.emplace_back(used, name);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  size_t unloaded = 0;
  for (const auto& [used, name] : candidates) {
    {
      std::shared_lock lock(mutex_);
      if (loaded_bytes_ <= target) break;
    }
    if (UnloadIfIdle(name)) ++unloaded;
  }
  return unloaded;
}

void Registry::StartUnloading(size_t bytes) {
  memory_limit_.store(bytes, std::memory_order_relaxed);
  Persistence* p = persistence();
  if (bytes == 0 || p == nullptr || !p->CanUnload() || unloading_thread_.joinable()) return;
  {
    std::lock_guard lock(unloading_mutex_);
    stop_unloading_ = false;
  }
  unloading_thread_ = std::thread([this] { RunUnloading(); });
}

void Registry::StopBackground() {
  stop_background_loading_.store(true, std::memory_order_relaxed);
  if (background_loading_thread_.joinable()) background_loading_thread_.join();
  {
    std::lock_guard lock(unloading_mutex_);
    stop_unloading_ = true;
  }
  unloading_wake_.notify_all();
  if (unloading_thread_.joinable()) unloading_thread_.join();
}

void Registry::StartBackgroundLoading(std::vector<std::string> names, size_t stop_above) {
  if (background_loading_thread_.joinable()) return;
  stop_background_loading_.store(false, std::memory_order_relaxed);
  background_loading_thread_ = std::thread([this, names = std::move(names), stop_above]() mutable {
    RunBackgroundLoading(std::move(names), stop_above);
  });
}

void Registry::RunBackgroundLoading(std::vector<std::string> names, size_t stop_above) {
  const auto started = std::chrono::steady_clock::now();
  size_t loaded = 0;
  for (const std::string& name : names) {
    if (stop_background_loading_.load(std::memory_order_relaxed)) return;
    if (stop_above != 0) {
      std::shared_lock lock(mutex_);
      if (loaded_bytes_ > stop_above) break;
    }
    if (Load(name, /*use=*/false).ok()) ++loaded;
  }
  LogInfo("background_loading_done",
          {{"indexes", names.size()},
           {"loaded", loaded},
           {"seconds",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
}

void Registry::RunUnloading() {
  std::unique_lock lock(unloading_mutex_);
  while (!stop_unloading_) {
    // Woken when a load or a write takes the sum over the limit; the timeout
    // retries indexes that were in use or failed to unload.
    unloading_wake_.wait_for(lock, std::chrono::seconds(1),
                             [this] { return stop_unloading_ || unloading_requested_; });
    if (stop_unloading_) break;
    unloading_requested_ = false;
    lock.unlock();
    const size_t limit = memory_limit_.load(std::memory_order_relaxed);
    // Down to 15/16 of the limit, so that the next few loads fit without
    // another round.
    UnloadDownTo(limit - limit / 16);
    lock.lock();
  }
}

std::string RecoveryReport::Summary() const {
  std::string kept;
  if (snapshot_sequence > 0) kept = "snapshot at sequence " + std::to_string(snapshot_sequence);
  if (records > 0) {
    if (!kept.empty()) kept += " + ";
    kept += "log records " + std::to_string(first_record) + "-" + std::to_string(last_record);
  }
  if (kept.empty()) kept = "nothing stored";
  std::string lost;
  if (!snapshot_error.empty()) lost = "the snapshot (" + snapshot_error + ")";
  if (!log_error.empty()) {
    if (!lost.empty()) lost += "; ";
    lost += "the log from its damage on (" + log_error + ")";
  }
  std::string line = "kept: " + kept + " (" + std::to_string(items) +
                     " items); lost: " + (lost.empty() ? "nothing" : lost);
  if (!params_note.empty()) line += "; " + params_note;
  if (!object_store_note.empty()) line += "; " + object_store_note;
  return line;
}

Result<WriteResult> Registry::Add(const std::shared_ptr<Index>& index,
                                  std::span<const NewItem> items, Durability durability) {
  if (items.size() > kMaxBatchItems) {
    return Status::InvalidArgument("items: at most " + std::to_string(kMaxBatchItems) +
                                   " per batch");
  }
  auto result = index->Add(items, workers_, durability);
  if (result.ok()) {
    if (Persistence* p = persistence()) p->OnWrite(index);
    Account(index);
  }
  return result;
}

Result<WriteResult> Registry::Remove(const std::shared_ptr<Index>& index,
                                     std::span<const std::string> ids, Durability durability) {
  if (ids.size() > kMaxBatchItems) {
    return Status::InvalidArgument("ids: at most " + std::to_string(kMaxBatchItems) + " per batch");
  }
  auto result = index->Remove(ids, durability);
  if (result.ok()) {
    if (Persistence* p = persistence()) p->OnWrite(index);
    Account(index);
  }
  return result;
}

}  // namespace vectord::service
