// The service layer: named indexes, their parameters, whole-batch validation
// and the hooks through which persistence learns about changes.
//
// Index wraps one engine::HnswIndex with the parameters the API speaks of
// (name, distance, m, ef_search) and with the item metadata stored as the
// engine's payload (minified JSON text). Registry maps names to indexes.
//
// Thread safety: every method of both classes may be called from any thread.
// The registry's map is guarded by a mutex held only for lookups and
// insertions; index operations run outside it, on shared_ptrs, so a Drop
// that races with a search lets the search finish on the dropped index.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "engine/hnsw_index.h"

namespace vectord::service {

inline constexpr size_t kDefaultK = 10;
inline constexpr size_t kMaxK = 1000;

struct IndexParams {
  std::string name;
  uint32_t dimension = 0;
  uint32_t m = engine::kDefaultM;
  uint32_t ef_search = engine::kDefaultEfSearch;
  uint32_t ef_construction = engine::kDefaultEfConstruction;
  engine::Metric metric = engine::Metric::kCosine;
};

// A create request as the client sent it: 0 means "use the default".
struct CreateSpec {
  std::string name;
  int64_t dimension = 0;
  int64_t m = 0;
  int64_t ef_search = 0;
  int64_t ef_construction = 0;
  std::string distance;  // empty: cosine
};

// Fills defaults and checks every field; InvalidArgument names the field.
Result<IndexParams> ResolveParams(const CreateSpec& spec);

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
};

class Index {
 public:
  Index(IndexParams params, std::unique_ptr<engine::HnswIndex> engine);

  const IndexParams& params() const { return params_; }
  size_t size() const { return engine_->size(); }
  engine::HnswIndex& engine() { return *engine_; }
  const engine::HnswIndex& engine() const { return *engine_; }

  // Validates the whole batch (messages "items[j]: ..."), then upserts it in
  // one engine write spread over `workers`. Returns the size afterwards.
  Result<size_t> Add(std::span<const NewItem> items, ThreadPool* workers);
  Result<std::vector<engine::SearchResult>> Search(const SearchSpec& spec) const;

  // Bumped by every change; persistence compares it with what it saved.
  uint64_t change_count() const { return changes_.load(std::memory_order_acquire); }
  bool dropped() const { return dropped_.load(std::memory_order_acquire); }
  void MarkDropped() { dropped_.store(true, std::memory_order_release); }

 private:
  const IndexParams params_;
  std::unique_ptr<engine::HnswIndex> engine_;
  std::atomic<uint64_t> changes_{0};
  std::atomic<bool> dropped_{false};
};

// Told about every change so that it can be persisted; implemented by the
// snapshot persister. Called after the change is visible, outside any lock.
class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  virtual void OnChanged(const std::shared_ptr<Index>& index) = 0;
  virtual void OnDropped(const std::string& name) = 0;
};

class Registry {
 public:
  explicit Registry(ThreadPool* workers) : workers_(workers) {}

  // Set once, before the server takes requests.
  void SetListener(ChangeListener* listener) { listener_ = listener; }

  // AlreadyExists "index already exists: NAME", or InvalidArgument.
  Result<std::shared_ptr<Index>> Create(const CreateSpec& spec);
  // Adds an index loaded from storage; AlreadyExists if the name is taken.
  Status Register(std::shared_ptr<Index> index);
  std::shared_ptr<Index> Find(std::string_view name) const;
  std::vector<std::string> Names() const;  // sorted
  size_t count() const;
  // NotFound "not found".
  Status Drop(std::string_view name);

  Result<size_t> Add(const std::shared_ptr<Index>& index, std::span<const NewItem> items);

  ThreadPool* workers() const { return workers_; }

 private:
  ThreadPool* const workers_;
  ChangeListener* listener_ = nullptr;
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::shared_ptr<Index>, std::less<>> indexes_;  // guarded by mutex_
};

}  // namespace vectord::service
