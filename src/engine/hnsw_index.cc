#include "engine/hnsw_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <numeric>
#include <unordered_map>

#include "engine/distance_spaces.h"

namespace vectord::engine {

HnswIndex::HnswIndex(const IndexOptions& options, std::unique_ptr<VectorFile> vector_file)
    : options_(options),
      metric_(DistanceMetric::For(options.metric)),
      code_kernel_(ActiveKernels().code_dot),
      grid_kernel_(ActiveKernels().code_l2_squared_bounded),
      sketch_kernel_(ActiveKernels().bit_plane_dot),
      vector_file_(std::move(vector_file)),
      storage_(SlotLayout(options.dimension, options.m, options.quantization == Quantization::kSq8,
                          /*compact=*/options.vectors.placement == VectorPlacement::kDisk),
               vector_file_.get()),
      graph_(storage_, metric_, options.dimension, options.m, options.ef_construction,
             options.seed),
      scratch_pool_(storage_.layout().level0_capacity + 1, storage_.layout().vector_floats) {}

HnswIndex::~HnswIndex() = default;

Result<std::unique_ptr<HnswIndex>> HnswIndex::Create(const IndexOptions& options) {
  VECTORD_RETURN_IF_ERROR(ValidateOptions(options));
  VECTORD_ASSIGN_OR_RETURN(std::unique_ptr<VectorFile> file, MakeVectorFile(options));
  return std::unique_ptr<HnswIndex>(new HnswIndex(options, std::move(file)));
}

Result<std::unique_ptr<VectorFile>> HnswIndex::MakeVectorFile(const IndexOptions& options) {
  if (options.vectors.placement != VectorPlacement::kDisk) return std::unique_ptr<VectorFile>();
  return VectorFile::Create(options.vectors.directory);
}

std::vector<float> HnswIndex::OriginalVector(uint32_t slot) const {
  std::vector<float> out;
  if (vector_file_ != nullptr) {
    std::vector<float> row(storage_.layout().row_bytes / sizeof(float));
    const uint32_t rows[1] = {slot};
    if (!vector_file_
             ->ReadRows(rows, storage_.layout().row_bytes, reinterpret_cast<std::byte*>(row.data()))
             .ok()) {
      return out;
    }
    out.assign(row.begin(), row.begin() + options_.dimension);
  } else {
    const float* v = storage_.VectorOf(slot);
    out.assign(v, v + options_.dimension);
  }
  metric_.Restore(storage_.NodeOf(slot).norm, out);
  return out;
}

// ---------------------------------------------------------------------------
// Writes

Status HnswIndex::ValidateItems(std::span<const ItemInput> items) const {
  for (size_t j = 0; j < items.size(); ++j) {
    const ItemInput& item = items[j];
    std::string prefix = "items[" + std::to_string(j) + "]: ";
    if (item.id.empty()) return Status::InvalidArgument(prefix + "empty id");
    if (item.vector.size() != options_.dimension) {
      return Status::InvalidArgument(prefix +
                                     "dim mismatch (index=" + std::to_string(options_.dimension) +
                                     ", got=" + std::to_string(item.vector.size()) + ")");
    }
    Status valid = ValidateVector(item.vector, options_.metric);
    if (!valid.ok()) return Status::InvalidArgument(prefix + valid.message());
  }
  return Status::Ok();
}

Status HnswIndex::Reserve(size_t count) {
  // Not under the write lock: a writer that reserves must not wait for the
  // write being applied (the service logs the next batch meanwhile).
  const uint64_t wanted = uint64_t{storage_.slot_count()} + count;
  if (wanted > SlotStorage::kMaxSlots) return Status::NoSpace("index is full");
  return storage_.EnsureCapacity(static_cast<uint32_t>(wanted));
}

Status HnswIndex::Upsert(std::span<const ItemInput> items, ThreadPool* pool,
                         std::vector<SlotChange>* changes) {
  VECTORD_RETURN_IF_ERROR(ValidateItems(items));
  std::lock_guard write(write_mutex_);
  if (!tombstones_.empty() && tombstones_.size() * 10 >= slot_count()) {
    // Not while a Save is streaming the slots out: this write would wait
    // for the disk. The next write after it consolidates.
    std::unique_lock snapshot(snapshot_mutex_, std::try_to_lock);
    if (snapshot.owns_lock()) ConsolidateLocked(pool);
  }
  VECTORD_ASSIGN_OR_RETURN(const PlacedBatch batch, PlaceItems(items));
  InsertPlaced(items, batch, pool);
  if (fail_next_upsert_.exchange(false, std::memory_order_relaxed)) throw std::bad_alloc();
  PublishPlaced(batch, changes);
  if (quantizer_ == nullptr && options_.quantization == Quantization::kSq8 &&
      size() >= kQuantizerTrainingItems) {
    TrainQuantizer();
  }
  return Status::Ok();
}

Result<HnswIndex::PlacedBatch> HnswIndex::PlaceItems(std::span<const ItemInput> items) {
  PlacedBatch batch;
  // The last occurrence of an id wins; order of first occurrence is kept.
  std::unordered_map<std::string_view, size_t> last_index;
  last_index.reserve(items.size());
  for (size_t j = 0; j < items.size(); ++j) {
    auto [it, inserted] = last_index.try_emplace(items[j].id, j);
    if (inserted) {
      batch.ids.push_back(items[j].id);
    } else {
      it->second = j;
    }
  }
  const size_t n = batch.ids.size();
  const size_t reused = std::min(n, free_slots_.size());
  const uint32_t first_new = storage_.slot_count();
  if (first_new + (n - reused) > SlotStorage::kMaxSlots) return Status::NoSpace("index is full");
  VECTORD_RETURN_IF_ERROR(storage_.EnsureCapacity(static_cast<uint32_t>(first_new + (n - reused))));

  batch.slots.resize(n);
  batch.source.resize(n);
  uint32_t next_new = first_new;
  for (size_t i = 0; i < n; ++i) {
    batch.source[i] = last_index[batch.ids[i]];
    uint32_t slot;
    if (i < reused) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = next_new++;
    }
    batch.slots[i] = slot;
    const ItemInput& item = items[batch.source[i]];
    const std::string_view payload = item.payload.value_or(std::string_view());
    storage_.Fill(slot, graph_.RandomLevel(), item.id, item.payload ? &payload : nullptr);
    storage_.SetState(slot, SlotState::kPending);
  }
  storage_.set_slot_count(next_new);
  return batch;
}

void HnswIndex::InsertPlaced(std::span<const ItemInput> items, const PlacedBatch& batch,
                             ThreadPool* pool) {
  auto insert_one = [&](size_t i) {
    const uint32_t slot = batch.slots[i];
    metric_.Prepare(items[batch.source[i]].vector, storage_.VectorOf(slot),
                    &storage_.NodeOf(slot).norm);
    // Codes first: the node becomes reachable (and walked on codes) inside Insert.
    if (codes_ready_.load(std::memory_order_relaxed)) EncodeSlot(slot);
    ScratchPool::Lease lease(scratch_pool_);
    graph_.Insert(slot, *lease);
  };
  if (pool != nullptr) {
    pool->ParallelFor(batch.slots.size(), insert_one);
  } else {
    for (size_t i = 0; i < batch.slots.size(); ++i) insert_one(i);
  }
}

void HnswIndex::PublishPlaced(const PlacedBatch& batch, std::vector<SlotChange>* changes) {
  // The old version of an id disappears before the new one appears, so a
  // concurrent search never returns both.
  if (changes != nullptr) changes->clear();
  std::unique_lock ids(ids_mutex_);
  size_t added = 0;
  for (size_t i = 0; i < batch.slots.size(); ++i) {
    SlotChange change{batch.slots[i], std::nullopt};
    const std::optional<uint32_t> old = slot_by_id_.Assign(
        batch.ids[i], batch.slots[i], [this](uint32_t slot) { return IdAt(slot); });
    if (old) {
      change.replaced_slot = *old;
      storage_.SetState(*old, SlotState::kDeleted);
      tombstones_.push_back(*old);
    } else {
      ++added;
    }
    storage_.SetState(batch.slots[i], SlotState::kLive);
    if (changes != nullptr) changes->push_back(change);
  }
  live_count_.fetch_add(added, std::memory_order_acq_rel);
  tombstone_count_.store(tombstones_.size(), std::memory_order_release);
}

void HnswIndex::TrainQuantizer() {
  // Ranges over every vector in the graph, tombstones included: searches
  // walk through those too.
  const uint32_t count = storage_.slot_count();
  const size_t dim = options_.dimension;
  std::vector<float> lower(dim, std::numeric_limits<float>::infinity());
  std::vector<float> upper(dim, -std::numeric_limits<float>::infinity());
  bool integers = true;
  std::vector<double> sum(dim, 0), sum_of_squares(dim, 0);
  auto in_graph = [&](uint32_t slot) { return !storage_.Is(slot, SlotState::kFree); };
  for (uint32_t slot = 0; slot < count; ++slot) {
    if (!in_graph(slot)) continue;
    const float* v = storage_.VectorOf(slot);
    for (size_t i = 0; i < dim; ++i) {
      lower[i] = std::min(lower[i], v[i]);
      upper[i] = std::max(upper[i], v[i]);
      integers = integers && v[i] == std::nearbyint(v[i]);
      sum[i] += v[i];
      sum_of_squares[i] += double{v[i]} * v[i];
    }
  }
  for (size_t i = 0; i < dim; ++i) {
    if (lower[i] > upper[i]) lower[i] = upper[i] = 0;  // empty graph
  }
  // Widest spread first (n * variance; the count is the same for all).
  std::vector<double> spread(dim);
  for (size_t i = 0; i < dim; ++i) {
    spread[i] = sum_of_squares[i] - sum[i] * sum[i] / std::max<double>(count, 1);
  }
  std::vector<uint32_t> order(dim);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return spread[a] > spread[b]; });
  if (integers) ScalarQuantizer::WidenToUnitGrid(&lower, &upper);
  quantizer_ = std::make_unique<ScalarQuantizer>(lower, upper, storage_.layout().vector_floats,
                                                 std::move(order));
  if (!quantizer_->unit_grid()) {
    // Sketches are taken around the mean, where residuals are smallest. A
    // unit grid gets none: its exact walk does not read them (see
    // WalkForSearch), and an off-grid query there is rare.
    size_t in_graph_count = 0;
    for (uint32_t slot = 0; slot < count; ++slot) in_graph_count += in_graph(slot) ? 1 : 0;
    std::vector<float> centre(dim, 0.0f);
    for (size_t i = 0; i < dim; ++i) {
      centre[i] = static_cast<float>(sum[i] / std::max<double>(in_graph_count, 1));
    }
    sketcher_ = std::make_unique<BinarySketcher>(std::move(centre), options_.seed);
    storage_.set_sketches_in_use();
  }
  codes_exact_.store(quantizer_->unit_grid(), std::memory_order_relaxed);
  for (uint32_t slot = 0; slot < count; ++slot) {
    if (in_graph(slot)) EncodeSlot(slot);
  }
  codes_ready_.store(true, std::memory_order_release);
}

void HnswIndex::EncodeSlot(uint32_t slot) {
  const Encoding encoding = quantizer_->Encode(storage_.VectorOf(slot), storage_.CodesOf(slot));
  // Before the node is linked or goes live (see codes_exact_).
  if (!encoding.exact) codes_exact_.store(false);
  *storage_.CodeNormOf(slot) = encoding.squared_norm;
  const float error = std::sqrt(encoding.squared_error);
  *storage_.CodeErrorOf(slot) = encoding.clamped ? -error : error;
  if (sketcher_ != nullptr) sketcher_->Encode(storage_.VectorOf(slot), storage_.SketchOf(slot));
}

std::vector<uint32_t> HnswIndex::Remove(std::span<const std::string_view> ids) {
  std::vector<uint32_t> removed;
  std::lock_guard write(write_mutex_);
  std::unique_lock lock(ids_mutex_);
  for (std::string_view id : ids) {
    const std::optional<uint32_t> slot =
        slot_by_id_.Erase(id, [this](uint32_t s) { return IdAt(s); });
    if (!slot) continue;
    storage_.SetState(*slot, SlotState::kDeleted);
    tombstones_.push_back(*slot);
    removed.push_back(*slot);
  }
  live_count_.fetch_sub(removed.size(), std::memory_order_acq_rel);
  tombstone_count_.store(tombstones_.size(), std::memory_order_release);
  return removed;
}

void HnswIndex::Consolidate(ThreadPool* pool) {
  // Both locks, without holding the write lock while a Save finishes.
  std::scoped_lock locks(write_mutex_, snapshot_mutex_);
  ConsolidateLocked(pool);
}

void HnswIndex::ConsolidateLocked(ThreadPool* pool) {
  if (tombstones_.empty()) return;
  const uint32_t count = storage_.slot_count();

  // 1. Unlink tombstones from every live node, in parallel blocks of slots.
  constexpr uint32_t kBlock = 1024;
  const size_t blocks = (count + kBlock - 1) / kBlock;
  auto repair_block = [&](size_t b) {
    ScratchPool::Lease lease(scratch_pool_);
    uint32_t end = std::min<uint32_t>(count, static_cast<uint32_t>((b + 1) * kBlock));
    for (uint32_t slot = static_cast<uint32_t>(b * kBlock); slot < end; ++slot) {
      if (storage_.Is(slot, SlotState::kLive)) graph_.RepairNode(slot, *lease);
    }
  };
  if (pool != nullptr) {
    pool->ParallelFor(blocks, repair_block);
  } else {
    for (size_t b = 0; b < blocks; ++b) repair_block(b);
  }

  // 2. A deleted entry point gives way to the live node with the highest level.
  graph_.ReplaceDeletedEntry();

  // 3. Whether every item left codes exactly: an index of integer data that
  // was sent one item off its grid walks exact codes again once that item
  // is deleted. No write runs meanwhile (the caller holds the write lock).
  const bool exact_again = codes_ready_.load(std::memory_order_acquire) &&
                           quantizer_->unit_grid() &&
                           !codes_exact_.load(std::memory_order_acquire) && LiveCodesExact();

  // 4. Wait until no reader can still hold a tombstone, then free them.
  std::unique_lock reclaim(reclaim_mutex_);
  for (uint32_t slot : tombstones_) storage_.Clear(slot);
  // Reuse low slots first: they sit in the older, denser chunks.
  free_slots_.insert(free_slots_.end(), tombstones_.begin(), tombstones_.end());
  std::sort(free_slots_.begin(), free_slots_.end(), std::greater<>());
  tombstones_.clear();
  tombstone_count_.store(0, std::memory_order_release);
  // Still under the reclaim lock: no search that could have returned an
  // inexact item is running, and the inexact items are now free slots.
  if (exact_again) codes_exact_.store(true, std::memory_order_release);
}

bool HnswIndex::LiveCodesExact() const {
  std::vector<uint8_t> codes(storage_.layout().code_row_bytes);
  const uint32_t count = storage_.slot_count();
  for (uint32_t slot = 0; slot < count; ++slot) {
    if (!storage_.Is(slot, SlotState::kLive)) continue;
    if (!quantizer_->Encode(storage_.VectorOf(slot), codes.data()).exact) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Reads

void HnswIndex::FillResult(const Candidate& c, const SearchOptions& options,
                           SearchResult* out) const {
  out->slot = c.slot;
  out->distance = metric_.Reported(c.distance);
  out->id.assign(storage_.IdOf(c.slot));
  if (options.with_payload && storage_.NodeOf(c.slot).has_payload) {
    out->payload = storage_.PayloadOf(c.slot);
  }
  if (options.with_vector) out->vector = OriginalVector(c.slot);
}

std::vector<SearchResult> HnswIndex::ExactSearch(const float* query, size_t k,
                                                 const SlotBitset* filter,
                                                 const SearchOptions& options) const {
  std::vector<Candidate> heap;
  heap.reserve(k + 1);
  const uint32_t count = storage_.slot_count();
  auto consider = [&](uint32_t slot) {
    if (slot >= count || !storage_.Is(slot, SlotState::kLive)) return;
    float d = metric_.Distance(query, storage_.VectorOf(slot), options_.dimension);
    if (heap.size() < k || d < heap.front().distance) {
      heap.push_back({d, slot});
      std::push_heap(heap.begin(), heap.end(), ByDistance{});
      if (heap.size() > k) {
        std::pop_heap(heap.begin(), heap.end(), ByDistance{});
        heap.pop_back();
      }
    }
  };
  if (filter != nullptr) {
    filter->ForEach(consider);
  } else {
    for (uint32_t slot = 0; slot < count; ++slot) consider(slot);
  }
  std::sort_heap(heap.begin(), heap.end(), ByDistance{});
  std::vector<SearchResult> out;
  out.reserve(heap.size());
  for (const Candidate& c : heap) {
    if (!storage_.Is(c.slot, SlotState::kLive)) continue;  // see Search
    FillResult(c, options, &out.emplace_back());
  }
  return out;
}

Status HnswIndex::RerankOnFloats(const float* query, size_t k, SearchScratch& s) const {
  // Each float row costs a vector's worth of cache misses in memory, and a
  // read (a disk read, off the page cache) from a vector file. So: measure
  // the candidates nearest on the codes first, then only those whose code
  // distance, less what its code's error could make of it, is within the
  // k-th exact distance found; drop the rest.
  //
  // How far a code distance may be off: the code's error vector e (its
  // norm r kept per slot) is a sum of independent rounding errors, so its
  // inner product with a direction of norm |u| has a spread of about
  // |u| r / sqrt(dimension); kRerankSigmas of those is the margin. Minus
  // inner product is off by <q, e>; squared Euclidean distance by
  // 2 <e, decoded - q> + r^2 >= -2 |<e, decoded - q>|. A code with a
  // component clamped to its range has no such spread: there the margin is
  // the Cauchy-Schwarz bound |u| r.
  std::sort(s.results.begin(), s.results.end(), ByDistance{});
  const size_t n = s.results.size();
  const size_t first = std::min(n, std::max(2 * k, kFirstRerankBatch));
  s.reranked.assign(s.results.begin(), s.results.begin() + static_cast<ptrdiff_t>(first));
  VECTORD_RETURN_IF_ERROR(MeasureOnFloats(query, 0, s));
  // The k-th among live items only: one deleted since the walk met it will
  // not be returned, so it must not stand in for one that would.
  s.selection.clear();
  for (const Candidate& c : s.reranked) {
    if (storage_.Is(c.slot, SlotState::kLive)) s.selection.push_back(c);
  }
  if (first < n && s.selection.size() < k) {
    // Measure the rest too.
    s.reranked.insert(s.reranked.end(), s.results.begin() + static_cast<ptrdiff_t>(first),
                      s.results.end());
    VECTORD_RETURN_IF_ERROR(MeasureOnFloats(query, first, s));
  } else if (first < n) {
    std::nth_element(s.selection.begin(), s.selection.begin() + static_cast<ptrdiff_t>(k - 1),
                     s.selection.end(), ByDistance{});
    const float kth = s.selection[k - 1].distance;
    const bool inner_product = metric_.form() == DistanceMetric::Form::kNegativeInnerProduct;
    double query_norm = 0;
    if (inner_product) {
      for (size_t d = 0; d < options_.dimension; ++d) query_norm += double{query[d]} * query[d];
      query_norm = std::sqrt(query_norm);
    }
    const double spread = kRerankSigmas / std::sqrt(static_cast<double>(options_.dimension));
    for (size_t i = first; i < n; ++i) {
      const Candidate& c = s.results[i];
      const float code_error = *storage_.CodeErrorOf(c.slot);
      const double r = std::abs(code_error);
      const double factor = code_error < 0 ? 1.0 : spread;
      const double off = inner_product
                             ? factor * query_norm * r
                             : 2.0 * factor * r * std::sqrt(std::max<double>(c.distance, 0.0));
      if (c.distance - off <= kth) s.reranked.push_back(c);
    }
    VECTORD_RETURN_IF_ERROR(MeasureOnFloats(query, first, s));
  }
  s.results.swap(s.reranked);
  return Status::Ok();
}

Status HnswIndex::MeasureOnFloats(const float* query, size_t begin, SearchScratch& s) const {
  const size_t end = s.reranked.size();
  if (vector_file_ != nullptr) {
    // One batch of reads, issued together.
    const size_t row_bytes = storage_.layout().row_bytes;
    const size_t row_floats = row_bytes / sizeof(float);
    s.row_slots.clear();
    for (size_t i = begin; i < end; ++i) s.row_slots.push_back(s.reranked[i].slot);
    if (s.rows.size() < s.row_slots.size() * row_floats) {
      s.rows.resize(s.row_slots.size() * row_floats);
    }
    VECTORD_RETURN_IF_ERROR(vector_file_->ReadRows(s.row_slots, row_bytes,
                                                   reinterpret_cast<std::byte*>(s.rows.data())));
    for (size_t i = begin; i < end; ++i) {
      s.reranked[i].distance =
          metric_.Distance(query, s.rows.data() + (i - begin) * row_floats, options_.dimension);
    }
    return Status::Ok();
  }
  for (size_t i = begin; i < end; ++i) PrefetchRowStart(storage_.VectorOf(s.reranked[i].slot));
  for (size_t i = begin; i < end; ++i) {
    if (i + 1 < end) {
      PrefetchBytes(storage_.VectorOf(s.reranked[i + 1].slot), options_.dimension * sizeof(float));
    }
    s.reranked[i].distance =
        metric_.Distance(query, storage_.VectorOf(s.reranked[i].slot), options_.dimension);
  }
  return Status::Ok();
}

Status HnswIndex::WalkForSearch(const float* q, uint64_t entry, size_t ef, size_t k,
                                const SlotBitset* filter, SearchScratch& s) const {
  if (!codes_ready_.load(std::memory_order_acquire)) {
    // Also for vectors on disk: an index this small (below
    // kQuantizerTrainingItems) is read through the page cache.
    graph_.Walk(FloatSpace{storage_, metric_, options_.dimension, q}, entry, ef, filter, s);
    return Status::Ok();
  }
  if (metric_.walks_exact_codes() && codes_exact_.load(std::memory_order_acquire) &&
      quantizer_->PrepareGridQuery(q, &s.grid_query)) {
    // Exact distances from the codes: a re-rank would change nothing,
    // unless an inexact row went live during the walk.
    // No sketches here: the bounded grid kernel already rejects a far
    // candidate after a few lines, and screening cost more than it saved
    // on Fashion-MNIST (bench/HISTORY.md, 2026-12-07).
    graph_.Walk(GridSpace{storage_, grid_kernel_, s.grid_query.data()}, entry, ef, filter, s);
    if (!codes_exact_.load(std::memory_order_acquire)) return RerankOnFloats(q, k, s);
    return Status::Ok();
  }
  // Walk on the codes, then re-rank the ef found on the floats: the walk
  // only has to get the true neighbours into the candidate set.
  quantizer_->PrepareQuery(q, &s.query_code);
  const CodeSpace codes{storage_, metric_, *quantizer_, code_kernel_, s.query_code};
  const float epsilon = sketch_epsilon_.load(std::memory_order_relaxed);
  if (epsilon > 0 && sketcher_ != nullptr) {
    sketcher_->PrepareQuery(q, &s.sketch_query);
    graph_.Walk(SketchSpace<CodeSpace>{codes, storage_, *sketcher_, sketch_kernel_, s.sketch_query,
                                       epsilon, metric_},
                entry, ef, filter, s);
  } else {
    graph_.Walk(codes, entry, ef, filter, s);
  }
  return RerankOnFloats(q, k, s);
}

Result<std::vector<SearchResult>> HnswIndex::Search(std::span<const float> query,
                                                    const SearchOptions& options) const {
  if (query.size() != options_.dimension) {
    return Status::InvalidArgument("dim mismatch (index=" + std::to_string(options_.dimension) +
                                   ", got=" + std::to_string(query.size()) + ")");
  }
  VECTORD_RETURN_IF_ERROR(ValidateVector(query, options_.metric));
  const size_t k = options.k;
  std::vector<SearchResult> out;
  if (k == 0) return out;
  const size_t ef = std::max(options.ef == 0 ? options_.ef_search : options.ef, k);

  std::shared_lock reclaim(reclaim_mutex_);
  ScratchPool::Lease lease(scratch_pool_);
  SearchScratch& s = *lease;
  float norm;
  metric_.Prepare(query, s.query.data(), &norm);
  const float* q = s.query.data();

  if (options.exact) return ExactSearch(q, k, options.filter, options);
  if (options.filter != nullptr) {
    // Walking the graph costs about ef * M distances per 1/selectivity; a scan
    // of the passing items costs one distance each. Scan when that is cheaper:
    // it is exact, and graph search degrades when few items pass.
    const double passing = static_cast<double>(options.filter->count());
    if (passing == 0) return out;
    const double graph_cost = static_cast<double>(ef) * options_.m *
                              static_cast<double>(std::max<size_t>(slot_count(), 1)) / passing;
    if (passing <= graph_cost) return ExactSearch(q, k, options.filter, options);
  }

  const uint64_t entry = graph_.entry();
  if (entry == HnswGraph::kNoEntry) return out;
  VECTORD_RETURN_IF_ERROR(WalkForSearch(q, entry, ef, k, options.filter, s));

  std::sort(s.results.begin(), s.results.end(), ByDistance{});
  // A result's state was read when it was reached. Reading it again drops an
  // item that a concurrent Upsert replaced since: the old version is marked
  // deleted before the new one goes live, so once we have seen the new one
  // live, this second look sees the old one deleted.
  out.reserve(std::min(k, s.results.size()));
  for (const Candidate& c : s.results) {
    if (out.size() == k) break;
    if (!storage_.Is(c.slot, SlotState::kLive)) continue;
    FillResult(c, options, &out.emplace_back());
  }
  return out;
}

std::optional<uint32_t> HnswIndex::SlotOf(std::string_view id) const {
  std::shared_lock lock(ids_mutex_);
  return slot_by_id_.Find(id, [this](uint32_t slot) { return IdAt(slot); });
}

bool HnswIndex::Contains(std::string_view id) const { return SlotOf(id).has_value(); }

std::optional<Item> HnswIndex::Get(std::string_view id) const {
  std::shared_lock reclaim(reclaim_mutex_);
  std::shared_lock lock(ids_mutex_);
  const std::optional<uint32_t> found =
      slot_by_id_.Find(id, [this](uint32_t s) { return IdAt(s); });
  if (!found) return std::nullopt;
  return ItemAt(*found);
}

std::optional<Item> HnswIndex::GetAt(uint32_t slot) const {
  std::shared_lock reclaim(reclaim_mutex_);
  std::shared_lock lock(ids_mutex_);
  if (slot >= slot_count() || !storage_.Is(slot, SlotState::kLive)) return std::nullopt;
  return ItemAt(slot);
}

Item HnswIndex::ItemAt(uint32_t slot) const {
  Item item;
  item.id.assign(storage_.IdOf(slot));
  item.vector = OriginalVector(slot);
  if (storage_.NodeOf(slot).has_payload) item.payload = storage_.PayloadOf(slot);
  return item;
}

std::optional<std::string> HnswIndex::PayloadAt(uint32_t slot) const {
  std::shared_lock reclaim(reclaim_mutex_);
  if (slot >= slot_count()) return std::nullopt;
  if (!storage_.Is(slot, SlotState::kLive) && !storage_.Is(slot, SlotState::kDeleted)) {
    return std::nullopt;
  }
  if (!storage_.NodeOf(slot).has_payload) return std::nullopt;
  return storage_.PayloadOf(slot);
}

MemoryUsage HnswIndex::memory_usage() const {
  std::shared_lock ids(ids_mutex_);
  return storage_.Usage(slot_by_id_.memory_bytes());
}

MemoryUsage HnswIndex::CountMemoryUsage() const {
  std::lock_guard write(write_mutex_);
  std::shared_lock ids(ids_mutex_);
  return storage_.CountUsage(slot_by_id_.memory_bytes());
}

}  // namespace vectord::engine
