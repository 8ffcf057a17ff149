// HnswIndex: an in-memory approximate nearest-neighbour index of float
// vectors keyed by string ids, each with an optional opaque payload (the
// service keeps item metadata there).
//
// The graph is the hierarchical navigable small world of Malkov & Yashunin
// (2018): a layered graph, level-0 degree 2M and M above, neighbours chosen by
// the diversity heuristic, links made in both directions and pruned with the
// same heuristic when a node is full.
//
// Storage: every slot's vector and level-0 links sit in one fixed-size row,
// rows in a few geometrically growing chunks (no heap object per node, no
// copy when the index grows). Deleted items stay in the graph as tombstones
// until Consolidate() reconnects their neighbours and hands their slots back
// for reuse. With Quantization::kSq8 each slot also has a row of 8-bit codes
// and its level-0 links (in a parallel array of the chunk) that searches
// traverse instead of the floats; the quantiser is trained once the index first holds
// kQuantizerTrainingItems items (and again on Load), and until then searches
// use the floats. Integer data on a unit grid (Fashion-MNIST's pixels, int8
// embeddings) codes losslessly: while every code is exact, a Euclidean search
// whose query lies on the grid walks on exact integer distances and skips the
// float re-rank.
//
// Thread safety:
// - Search(), Get(), Contains(), size() and the other const methods may run
//   from any number of threads at once, also while a write is in progress.
// - Writes (Upsert, Remove, Consolidate, Save) are serialised by an internal
//   mutex: one write at a time, each spreading its work over the ThreadPool
//   it is given. Inside a write, threads lock single nodes (a one-byte
//   spinlock per node), never the whole index.
// - A search sees each item of a concurrent Upsert either before or after
//   that item's change, never half of it, and never two versions of one id.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "common/byte_stream.h"
#include "engine/distance.h"
#include "engine/metric.h"
#include "engine/scalar_quantizer.h"
#include "engine/slot_bitset.h"
#include "engine/slot_id_table.h"

namespace vectord::engine {

inline constexpr uint32_t kMaxDimension = 16384;
inline constexpr uint32_t kMinM = 2;
inline constexpr uint32_t kMaxM = 128;
inline constexpr uint32_t kMaxEf = 10000;
inline constexpr uint32_t kDefaultM = 16;
// Chosen by bench/engine_bench on Fashion-MNIST and the 768-d embedding-like
// set; see bench/RESULTS.md.
inline constexpr uint32_t kDefaultEfConstruction = 200;
inline constexpr uint32_t kDefaultEfSearch = 64;
// An SQ8 index learns its per-dimension ranges from this many items; smaller
// indexes are searched on the floats (an exact-enough walk costs little there).
inline constexpr size_t kQuantizerTrainingItems = 1000;

struct IndexOptions {
  uint32_t dimension = 0;
  Metric metric = Metric::kCosine;
  uint32_t m = kDefaultM;
  uint32_t ef_construction = kDefaultEfConstruction;
  uint32_t ef_search = kDefaultEfSearch;  // used when a query names no ef
  Quantization quantization = Quantization::kNone;
  uint64_t seed = 0x9e3779b97f4a7c15ull;  // level generator; fixed for repeatable builds
};

// Says what is wrong with `options`, naming the field.
Status ValidateOptions(const IndexOptions& options);

// Says why `vector` cannot be stored in (or queried against) an index with
// this metric: a non-finite component, or no direction in a cosine index.
// The dimension is checked separately by the caller.
Status ValidateVector(std::span<const float> vector, Metric metric);

struct ItemInput {
  std::string_view id;
  std::span<const float> vector;
  // Opaque bytes kept beside the vector; nullopt when the item has none.
  std::optional<std::string_view> payload;
};

struct Item {
  std::string id;
  std::vector<float> vector;  // as it was given (cosine: de-normalised)
  std::optional<std::string> payload;
};

struct SearchOptions {
  size_t k = 10;
  size_t ef = 0;                       // 0: the index's ef_search; effective ef = max(ef, k)
  const SlotBitset* filter = nullptr;  // when set, only these slots may be returned
  bool with_payload = true;
  bool with_vector = false;
  // Compare the query with every live item (that passes the filter) instead
  // of walking the graph: the true k nearest, at the cost of a full scan.
  // For measuring the graph's recall, not for serving.
  bool exact = false;
};

struct SearchResult {
  uint32_t slot = 0;
  float distance = 0;  // in the metric's own definition (see Metric)
  std::string id;
  std::optional<std::string> payload;  // when asked for and present
  std::vector<float> vector;           // when asked for
};

// What an Upsert did to one distinct id of the batch.
struct SlotChange {
  uint32_t slot = 0;                      // where the item lives now
  std::optional<uint32_t> replaced_slot;  // the slot its previous version held
};

struct MemoryUsage {
  size_t vector_and_link_bytes = 0;  // level-0 rows actually in use
  size_t code_bytes = 0;             // SQ8 code rows in use
  size_t upper_link_bytes = 0;
  size_t node_bytes = 0;  // per-slot bookkeeping (state, level, norm, lock)
  size_t id_bytes = 0;    // ids and id map
  size_t payload_bytes = 0;
  size_t total() const {
    return vector_and_link_bytes + code_bytes + upper_link_bytes + node_bytes + id_bytes +
           payload_bytes;
  }
};

class HnswIndex {
 public:
  static Result<std::unique_ptr<HnswIndex>> Create(const IndexOptions& options);
  ~HnswIndex();

  HnswIndex(const HnswIndex&) = delete;
  HnswIndex& operator=(const HnswIndex&) = delete;

  // Inserts or replaces every item. The whole batch is validated first: on
  // error nothing is applied and the message starts with "items[j]: ". Within
  // the batch the last occurrence of an id wins. `changes`, when given,
  // receives one entry per distinct id in first-occurrence order.
  Status Upsert(std::span<const ItemInput> items, ThreadPool* pool = nullptr,
                std::vector<SlotChange>* changes = nullptr);
  // The validation Upsert starts with, for callers that must check a batch
  // before committing to it (e.g. before writing it to a log).
  Status ValidateItems(std::span<const ItemInput> items) const;

  // Deletes the items with these ids; absent ids are skipped. Returns the
  // slots that were freed from search, in the order of `ids`.
  std::vector<uint32_t> Remove(std::span<const std::string_view> ids);

  // Reconnects the neighbours of deleted items and makes their slots
  // reusable. Upsert runs it by itself once tombstones pass a tenth of the
  // slots; callers may run it earlier (e.g. when idle).
  void Consolidate(ThreadPool* pool = nullptr);

  // The k nearest live items to `query`, nearest first. Fails only on a
  // query of the wrong dimension or one that ValidateVector refuses.
  Result<std::vector<SearchResult>> Search(std::span<const float> query,
                                           const SearchOptions& options) const;

  std::optional<Item> Get(std::string_view id) const;
  // The item in `slot` if the slot is live (lets a caller pick items at
  // random: slots below slot_count() are dense apart from free ones).
  std::optional<Item> GetAt(uint32_t slot) const;
  // The payload of the item in `slot` while the slot is live or a tombstone
  // (not yet consolidated); nullopt otherwise or when it has none. Lets a
  // caller that indexes payloads un-index what a write replaced or deleted.
  std::optional<std::string> PayloadAt(uint32_t slot) const;
  bool Contains(std::string_view id) const;
  std::optional<uint32_t> SlotOf(std::string_view id) const;

  // Calls fn(slot, id, payload) for every live item, in slot order, under the
  // read lock: fn must not call back into this index's write methods.
  template <typename Fn>
  void ForEachLive(Fn&& fn) const;

  const IndexOptions& options() const { return options_; }
  size_t size() const { return live_count_.load(std::memory_order_acquire); }
  // One past the highest slot ever used: the size a SlotBitset needs.
  size_t slot_count() const { return slot_count_.load(std::memory_order_acquire); }
  size_t tombstone_count() const;
  // An SQ8 index whose every code is lossless (integer data on a unit grid):
  // Euclidean searches with queries on the grid then walk exact integer
  // distances and skip the float re-rank.
  bool codes_exact() const {
    return codes_ready_.load(std::memory_order_acquire) &&
           codes_exact_.load(std::memory_order_acquire);
  }
  // From counters the writes keep: no lock, no walk, so index-info requests
  // neither wait for a write nor slow one down. Exact once writes are done.
  MemoryUsage memory_usage() const;
  // The same figures counted by walking every slot under the write lock: for
  // tests that check the counters.
  MemoryUsage CountMemoryUsage() const;

  // Serialises the whole index; the format is docs/index-file-format.md.
  // Holds the write lock only while it copies the links and slot states
  // (writes wait for that copy, not for the sink); searches go on throughout. `log_sequence` is
  // stored in the header for the caller (the service records which
  // write-ahead-log record the snapshot includes).
  Status Save(ByteSink& sink, uint64_t log_sequence = 0) const;
  // Reads an index written by Save; any damage is a Corruption status naming
  // the byte offset, never a crash or a silently wrong index.
  static Result<std::unique_ptr<HnswIndex>> Load(ByteSource& source,
                                                 uint64_t* log_sequence = nullptr);
  // The log_sequence of a file from its first index_file::kHeaderSize bytes
  // alone (magic, version and header checksum verified): what a snapshot in
  // an object store covers, without downloading it.
  static Result<uint64_t> PeekLogSequence(std::string_view header);

 private:
  struct Chunk;
  struct Scratch;
  // What a graph walk measures distances on: the float vectors, the codes, or
  // exact codes on a unit grid.
  struct FloatSpace;
  struct CodeSpace;
  struct GridSpace;
  struct Candidate {
    float distance;
    uint32_t slot;
  };
  class ScratchLease;

  explicit HnswIndex(const IndexOptions& options);

  // Slot addressing over the geometric chunks.
  struct Location {
    Chunk* chunk;
    uint32_t offset;
  };
  // Inline: a walk calls it for every neighbour it looks at, twice.
  Location Locate(uint32_t slot) const {
    const uint64_t s = uint64_t{slot} + (uint64_t{1} << kFirstChunkShift);
    const int chunk = std::bit_width(s) - 1 - kFirstChunkShift;
    const uint32_t offset = static_cast<uint32_t>(s - (uint64_t{1} << (chunk + kFirstChunkShift)));
    return {chunks_[chunk].load(std::memory_order_acquire), offset};
  }
  Status EnsureCapacity(uint32_t slots);

  float* VectorOf(uint32_t slot) const;
  uint32_t* Level0LinksOf(uint32_t slot) const;  // [count, links...]
  uint32_t* LinksOf(uint32_t slot, int level) const;
  // [codes: padded dimension bytes][f32 squared norm of the decoded vector]
  // [u32 count, u32 links[2M]]: an SQ8 index keeps its level-0 links here,
  // beside the codes a search reads, instead of in the float row.
  uint8_t* CodesOf(uint32_t slot) const;
  uint8_t LevelOf(uint32_t slot) const;
  uint8_t StateOf(uint32_t slot) const;
  void PrefetchNode(uint32_t slot) const;
  void SetState(uint32_t slot, uint8_t state);
  void LockNode(uint32_t slot) const;
  void UnlockNode(uint32_t slot) const;
  // Copies a node's links at `level` into `out` under the node's lock.
  uint32_t CopyLinks(uint32_t slot, int level, uint32_t* out) const;

  float Distance(const float* a, const float* b) const {
    return sign_ * kernel_(a, b, options_.dimension);
  }
  float ReportedDistance(float internal) const;

  int RandomLevel();
  void InsertNode(uint32_t slot, Scratch& scratch);
  template <typename Space>
  void GreedyDescend(const Space& space, int from_level, int to_level, uint32_t* current,
                     float* current_distance, Scratch& scratch) const;
  // A search's whole walk: greedy through the upper levels, ef-wide on level
  // 0, leaving the candidates in scratch.results.
  template <typename Space>
  void WalkGraph(const Space& space, uint64_t entry, size_t ef, const SlotBitset* filter,
                 Scratch& scratch) const;
  template <bool kForSearch, typename Space>
  void SearchLayer(const Space& space, uint32_t entry, float entry_distance, size_t ef, int level,
                   const SlotBitset* filter, Scratch& scratch) const;
  void SelectNeighbours(std::vector<Candidate>& candidates, size_t max_count,
                        uint32_t exclude) const;
  void LinkBack(uint32_t node, int level, uint32_t new_neighbour, Scratch& scratch);
  // Writes a new node's links at `level`: scratch.selection plus any links
  // other inserters added meanwhile, pruned to capacity.
  void SetOwnLinks(uint32_t slot, int level, Scratch& scratch);
  void RepairNode(uint32_t node, Scratch& scratch);
  void ConsolidateLocked(ThreadPool* pool);
  // Scans the live slots in `filter`, or every live slot when it is null.
  std::vector<SearchResult> ExactSearch(const float* query, size_t k, const SlotBitset* filter,
                                        const SearchOptions& options) const;
  void FillResult(const Candidate& candidate, const SearchOptions& options,
                  SearchResult* out) const;
  std::vector<float> OriginalVector(uint32_t slot) const;
  // The item in a live slot; the caller holds reclaim_mutex_ and ids_mutex_
  // shared, so the slot is neither reclaimed nor renamed meanwhile.
  Item ItemAt(uint32_t slot) const;
  // Whether every live slot's vector codes exactly; O(items x dimension).
  // Callers hold the write lock.
  bool LiveCodesExact() const;
  void PrepareVector(std::span<const float> input, float* out, float* norm) const;
  // Trains the quantiser on every vector in the graph and codes them all;
  // callers hold the write lock (or own the index alone, as Load does).
  void TrainQuantizer();
  void EncodeSlot(uint32_t slot);
  // Replaces the walk's code distances of scratch.results with float ones.
  void RerankOnFloats(const float* query, Scratch& scratch) const;

  const IndexOptions options_;
  const uint32_t level0_capacity_;  // 2M
  const uint32_t upper_capacity_;   // M
  const size_t vector_floats_;      // dimension rounded up to 16 floats
  const size_t row_bytes_;          // vector + [count, links] rounded up to 64 bytes
  const size_t code_row_bytes_;     // SQ8: codes + squared norm + level-0 links, to 64; else 0
  const double level_multiplier_;   // 1 / ln(M)
  DistanceKernel kernel_;
  BoundedDistanceKernel bounded_kernel_ = nullptr;  // Euclidean only
  CodeKernel code_kernel_;
  BoundedCodeKernel grid_kernel_;
  float sign_;  // internal distance = sign_ * kernel_: l2^2 or -<a,b>

  // Set once, inside a write, before codes_ready_; never changed after.
  std::unique_ptr<ScalarQuantizer> quantizer_;
  // Every slot in the graph has codes: searches may walk them.
  std::atomic<bool> codes_ready_{false};
  // Every live item's code row decodes to its vector exactly (so the
  // quantiser is on a unit grid). Cleared, before the node can be reached,
  // by the first inexact row; set again by training (on Load) and by
  // Consolidate once no inexact item is left, while it holds the reclaim
  // lock (no search running): a search that reads it true after its walk saw
  // only exact codes in the items it returns.
  std::atomic<bool> codes_exact_{false};

  // Slots are uint32; keep clear of overflow in Locate's arithmetic.
  static constexpr uint64_t kMaxSlots = (uint64_t{1} << 32) - 256;
  static constexpr int kChunkCount = 27;
  static constexpr int kFirstChunkShift = 6;  // chunk c holds 64 << c slots
  std::atomic<Chunk*> chunks_[kChunkCount] = {};

  std::atomic<uint32_t> slot_count_{0};
  std::atomic<size_t> live_count_{0};
  // (max_level << 32) | entry slot; kNoEntry when the graph is empty.
  std::atomic<uint64_t> entry_{0};
  std::mutex entry_mutex_;  // held while a node that raises max_level is inserted

  // One write at a time; guards free_slots_, tombstones_, rng_state_.
  mutable std::mutex write_mutex_;
  // Held by Save while it streams slots out after releasing write_mutex_,
  // and by consolidation (the only code that rewrites a slot in use). Taken
  // after write_mutex_, or together with it (std::lock).
  mutable std::mutex snapshot_mutex_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> tombstones_;
  std::atomic<size_t> tombstone_count_{0};  // tombstones_.size(), readable without the lock
  uint64_t rng_state_;

  // Held shared by everything that reads node data (searches, Get, scans);
  // held exclusively for the moment consolidated slots become reusable, so
  // that no reader can still be looking at a slot when it is rewritten.
  mutable std::shared_mutex reclaim_mutex_;

  // id -> slot of the live version, comparing against the slots' own ids
  // (IdAt). Written only inside writes.
  mutable std::shared_mutex ids_mutex_;
  SlotIdTable slot_by_id_;
  std::string_view IdAt(uint32_t slot) const;

  // Heap bytes behind the slots (ids, payloads, upper links), kept by the
  // code that changes them so that memory_usage() need not walk the index.
  // Changed only under write_mutex_.
  struct HeapTotals {
    size_t upper_links = 0, ids = 0, payloads = 0;
  };
  struct {
    std::atomic<size_t> upper_links{0}, ids{0}, payloads{0};
  } heap_bytes_;
  // What a std::string holds on the heap beyond its own object (libstdc++
  // keeps up to 15 characters inside it).
  static size_t StringHeapBytes(const std::string& s) {
    return s.capacity() > 15 ? s.capacity() + 1 : 0;
  }
  HeapTotals SlotHeapOf(uint32_t slot) const;
  // Moves heap_bytes_ by what one slot's rewrite changed.
  void AdjustHeapBytes(const HeapTotals& before, const HeapTotals& after);
  // Walks every slot; the caller holds write_mutex_.
  HeapTotals CountHeapBytes() const;
  void StoreHeapBytes(const HeapTotals& totals);
  MemoryUsage UsageWith(const HeapTotals& heap) const;

  mutable std::mutex scratch_mutex_;
  mutable std::vector<std::unique_ptr<Scratch>> scratch_pool_;
};

// Per-slot state, stored in index files.
enum class SlotState : uint8_t {
  kFree = 0,     // never used, or reclaimed: not in the graph
  kPending = 1,  // inserted by a write in progress: in the graph, not yet a result
  kLive = 2,
  kDeleted = 3,  // tombstone: still links the graph, never a result
};

struct HnswIndex::Chunk {
  Chunk(size_t slots, size_t row_bytes, size_t code_row_bytes);
  ~Chunk();
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;

  struct Node {
    std::atomic<uint8_t> lock{0};
    std::atomic<uint8_t> state{0};
    uint8_t level = 0;
    uint8_t has_payload = 0;
    float norm = 0;  // cosine: the length of the vector as given
  };

  size_t slots;
  size_t rows_bytes;
  std::byte* rows;  // slots * row_bytes, zero-filled, page-aligned
  size_t codes_bytes;
  std::byte* codes;  // slots * code_row_bytes (SQ8 only, else null)
  std::unique_ptr<Node[]> nodes;
  std::unique_ptr<std::unique_ptr<uint32_t[]>[]> upper_links;  // level * (1 + M) per node
  std::unique_ptr<std::string[]> ids;
  std::unique_ptr<std::string[]> payloads;
};

template <typename Fn>
void HnswIndex::ForEachLive(Fn&& fn) const {
  std::shared_lock reclaim(reclaim_mutex_);
  const uint32_t count = slot_count();
  for (uint32_t slot = 0; slot < count; ++slot) {
    if (StateOf(slot) != static_cast<uint8_t>(SlotState::kLive)) continue;
    Location loc = Locate(slot);
    const std::string* payload =
        loc.chunk->nodes[loc.offset].has_payload ? &loc.chunk->payloads[loc.offset] : nullptr;
    fn(slot, std::string_view(loc.chunk->ids[loc.offset]), payload);
  }
}

}  // namespace vectord::engine
