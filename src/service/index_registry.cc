#include "service/index_registry.h"

#include <algorithm>

#include "service/index_name.h"

namespace vectord::service {

Result<IndexParams> ResolveParams(const CreateSpec& spec) {
  VECTORD_RETURN_IF_ERROR(ValidateIndexName(spec.name));
  IndexParams params;
  params.name = spec.name;
  if (spec.dimension <= 0 || spec.dimension > engine::kMaxDimension) {
    return Status::InvalidArgument("invalid index params: dimension must be between 1 and " +
                                   std::to_string(engine::kMaxDimension) + ", got " +
                                   std::to_string(spec.dimension));
  }
  params.dimension = static_cast<uint32_t>(spec.dimension);
  auto in_range = [](int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  if (spec.m != 0) {
    if (!in_range(spec.m, engine::kMinM, engine::kMaxM)) {
      return Status::InvalidArgument(
          "invalid index params: m must be between " + std::to_string(engine::kMinM) + " and " +
          std::to_string(engine::kMaxM) + ", got " + std::to_string(spec.m));
    }
    params.m = static_cast<uint32_t>(spec.m);
  }
  if (spec.ef_search != 0) {
    if (!in_range(spec.ef_search, 1, engine::kMaxEf)) {
      return Status::InvalidArgument("invalid index params: ef_search must be between 1 and " +
                                     std::to_string(engine::kMaxEf) + ", got " +
                                     std::to_string(spec.ef_search));
    }
    params.ef_search = static_cast<uint32_t>(spec.ef_search);
  }
  if (spec.ef_construction != 0) {
    if (!in_range(spec.ef_construction, 1, engine::kMaxEf)) {
      return Status::InvalidArgument(
          "invalid index params: ef_construction must be between 1 and " +
          std::to_string(engine::kMaxEf) + ", got " + std::to_string(spec.ef_construction));
    }
    params.ef_construction = static_cast<uint32_t>(spec.ef_construction);
  }
  if (!spec.distance.empty()) {
    auto metric = engine::ParseMetric(spec.distance);
    if (!metric) return Status::InvalidArgument("unknown distance: " + spec.distance);
    params.metric = *metric;
  }
  return params;
}

Index::Index(IndexParams params, std::unique_ptr<engine::HnswIndex> engine)
    : params_(std::move(params)), engine_(std::move(engine)) {}

Result<size_t> Index::Add(std::span<const NewItem> items, ThreadPool* workers) {
  if (items.empty()) return Status::InvalidArgument("items must be non-empty");
  std::vector<engine::ItemInput> inputs;
  inputs.reserve(items.size());
  for (const NewItem& item : items) {
    std::optional<std::string_view> payload;
    if (item.metadata) payload = *item.metadata;
    inputs.push_back({item.id, item.vector, payload});
  }
  // The engine validates the whole batch before applying any of it.
  VECTORD_RETURN_IF_ERROR(engine_->Upsert(inputs, workers));
  changes_.fetch_add(1, std::memory_order_acq_rel);
  return engine_->size();
}

Result<std::vector<engine::SearchResult>> Index::Search(const SearchSpec& spec) const {
  engine::SearchOptions options;
  options.k = spec.k <= 0 ? kDefaultK : std::min<size_t>(static_cast<size_t>(spec.k), kMaxK);
  options.ef = spec.ef;
  options.with_payload = spec.include_metadata;
  options.with_vector = spec.include_vector;
  return engine_->Search(spec.vector, options);
}

Result<std::shared_ptr<Index>> Registry::Create(const CreateSpec& spec) {
  auto params = ResolveParams(spec);
  if (!params.ok()) return params.status();
  engine::IndexOptions options;
  options.dimension = params->dimension;
  options.metric = params->metric;
  options.m = params->m;
  options.ef_construction = params->ef_construction;
  options.ef_search = params->ef_search;
  auto engine = engine::HnswIndex::Create(options);
  if (!engine.ok()) return engine.status();
  auto index = std::make_shared<Index>(std::move(params).value(), std::move(engine).value());
  {
    std::unique_lock lock(mutex_);
    auto [it, inserted] = indexes_.try_emplace(index->params().name, index);
    if (!inserted) return Status::AlreadyExists("index already exists: " + index->params().name);
  }
  if (listener_ != nullptr) listener_->OnChanged(index);
  return index;
}

Status Registry::Register(std::shared_ptr<Index> index) {
  std::unique_lock lock(mutex_);
  auto [it, inserted] = indexes_.try_emplace(index->params().name, std::move(index));
  if (!inserted) return Status::AlreadyExists("index already exists: " + it->first);
  return Status::Ok();
}

std::shared_ptr<Index> Registry::Find(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = indexes_.find(name);
  return it == indexes_.end() ? nullptr : it->second;
}

std::vector<std::string> Registry::Names() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> names;
  names.reserve(indexes_.size());
  for (const auto& [name, index] : indexes_) names.push_back(name);
  return names;  // std::map keeps them sorted
}

size_t Registry::count() const {
  std::shared_lock lock(mutex_);
  return indexes_.size();
}

Status Registry::Drop(std::string_view name) {
  std::shared_ptr<Index> index;
  {
    std::unique_lock lock(mutex_);
    auto it = indexes_.find(name);
    if (it == indexes_.end()) return Status::NotFound("not found");
    index = std::move(it->second);
    indexes_.erase(it);
  }
  index->MarkDropped();
  if (listener_ != nullptr) listener_->OnDropped(std::string(name));
  return Status::Ok();
}

Result<size_t> Registry::Add(const std::shared_ptr<Index>& index, std::span<const NewItem> items) {
  auto size = index->Add(items, workers_);
  if (size.ok() && listener_ != nullptr) listener_->OnChanged(index);
  return size;
}

}  // namespace vectord::service
