// HnswIndex: an in-memory approximate nearest-neighbour index of float
// vectors keyed by string ids, each with an optional opaque payload (the
// service keeps item metadata there).
//
// It joins the engine's parts and owns the rules between them:
// - SlotStorage (slot_storage.h): rows of vectors and links, ids, payloads;
// - HnswGraph (hnsw_graph.h): the graph over those slots, walk and insert;
// - SlotIdTable (slot_id_table.h): id -> slot of the live version;
// - ScalarQuantizer (scalar_quantizer.h): SQ8 codes the walk may use;
// - BinarySketcher (binary_sketch.h): 1-bit sketches that screen a walk's
//   candidates before their SQ8 codes are read;
// - DistanceMetric (metric.h): kernels and conventions of the metric;
// - the index file (index_file.h): Save and Load.
//
// Deleted items stay in the graph as tombstones until Consolidate()
// reconnects their neighbours and hands their slots back for reuse. With
// Quantization::kSq8 searches traverse 8-bit codes instead of the floats
// once the index first holds kQuantizerTrainingItems items (and again on
// Load), and re-rank on the floats. Integer data on a unit grid
// (Fashion-MNIST's pixels, int8 embeddings) codes losslessly: while every
// code is exact, a Euclidean search whose query lies on the grid walks on
// exact integer distances and skips the float re-rank. Otherwise the walk
// on codes first screens each candidate on its 1-bit sketch and reads the
// codes only of those that may be near enough (set_sketch_epsilon).
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
// - Lock order: write_mutex_, then snapshot_mutex_ (or both with std::lock),
//   then reclaim_mutex_, then ids_mutex_.
#pragma once

#include <atomic>
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

#include "common/byte_stream.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "engine/binary_sketch.h"
#include "engine/distance.h"
#include "engine/hnsw_graph.h"
#include "engine/index_options.h"
#include "engine/metric.h"
#include "engine/scalar_quantizer.h"
#include "engine/search_scratch.h"
#include "engine/slot_bitset.h"
#include "engine/slot_id_table.h"
#include "engine/slot_storage.h"
#include "engine/vector_file.h"

namespace vectord::engine {

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
  // Makes room for `count` more items (memory, and the vector file's blocks
  // for vectors on disk), so that a batch a caller commits to (logs) before
  // applying cannot then fail for want of space: NoSpace here instead.
  Status Reserve(size_t count);

  // For tests: the next Upsert throws std::bad_alloc after linking its items
  // into the graph and before publishing them — what an allocation failing
  // part way leaves behind.
  void FailNextUpsertPartWayForTesting() { fail_next_upsert_.store(true); }

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

  // How wide the interval is within which a walk trusts a 1-bit sketch to
  // reject a candidate (binary_sketch.h): wider rejects fewer, skips fewer
  // true neighbours. 0 turns sketches off. For benches and tests; any
  // thread, any time.
  static constexpr float kDefaultSketchEpsilon = 1.9f;
  void set_sketch_epsilon(float epsilon) {
    sketch_epsilon_.store(epsilon, std::memory_order_relaxed);
  }
  size_t size() const { return live_count_.load(std::memory_order_acquire); }
  // One past the highest slot ever used: the size a SlotBitset needs.
  size_t slot_count() const { return storage_.slot_count(); }
  size_t tombstone_count() const { return tombstone_count_.load(std::memory_order_acquire); }
  // Vector rows read from the vector file (vectors on disk; else 0).
  uint64_t vector_rows_read() const {
    return vector_file_ != nullptr ? vector_file_->rows_read() : 0;
  }
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
  // (writes wait for that copy, not for the sink); searches go on
  // throughout. `log_sequence` is stored in the header for the caller (the
  // service records which write-ahead-log record the snapshot includes).
  Status Save(ByteSink& sink, uint64_t log_sequence = 0) const;
  // Reads an index written by Save (any format version this build knows);
  // any damage is a Corruption status naming the byte offset, never a crash
  // or a silently wrong index.
  // `vectors` says where the loaded index keeps its vectors (the file does
  // not: it is the same either way).
  static Result<std::unique_ptr<HnswIndex>> Load(ByteSource& source,
                                                 uint64_t* log_sequence = nullptr,
                                                 const VectorStorage& vectors = {});
  // The log_sequence of a file from its first index_file::kHeaderSize bytes
  // alone (magic, version and header checksum verified): what a snapshot in
  // an object store covers, without downloading it.
  static Result<uint64_t> PeekLogSequence(std::string_view header);

 private:
  friend class IndexFileWriter;
  friend class IndexFileReader;

  // `vector_file` is null unless options.vectors.placement is kDisk.
  HnswIndex(const IndexOptions& options, std::unique_ptr<VectorFile> vector_file);
  // The vector file `options` asks for, or null.
  static Result<std::unique_ptr<VectorFile>> MakeVectorFile(const IndexOptions& options);

  // Upsert's steps: give each distinct id a slot (its level, id, payload;
  // pending), then link them all, then make them live.
  struct PlacedBatch {
    std::vector<std::string_view> ids;  // distinct, in first-occurrence order
    std::vector<size_t> source;         // the item each id takes its data from
    std::vector<uint32_t> slots;
  };
  Result<PlacedBatch> PlaceItems(std::span<const ItemInput> items);
  void InsertPlaced(std::span<const ItemInput> items, const PlacedBatch& batch, ThreadPool* pool);
  void PublishPlaced(const PlacedBatch& batch, std::vector<SlotChange>* changes);

  void ConsolidateLocked(ThreadPool* pool);
  // Scans the live slots in `filter`, or every live slot when it is null.
  std::vector<SearchResult> ExactSearch(const float* query, size_t k, const SlotBitset* filter,
                                        const SearchOptions& options) const;
  // Walks the graph on whatever the index has (exact codes, codes, floats)
  // and leaves the candidates, with float distances, in scratch.results.
  // Fails only when vectors kept on disk cannot be read.
  Status WalkForSearch(const float* query, uint64_t entry, size_t ef, size_t k,
                       const SlotBitset* filter, SearchScratch& scratch) const;
  void FillResult(const Candidate& candidate, const SearchOptions& options,
                  SearchResult* out) const;
  // The vector as the client gave it. From a vector file it is read with
  // pread, not through the mapping, which would keep its page resident;
  // a read error gives an empty vector (the item then cannot be returned).
  std::vector<float> OriginalVector(uint32_t slot) const;
  // The item in a live slot; the caller holds reclaim_mutex_ and ids_mutex_
  // shared, so the slot is neither reclaimed nor renamed meanwhile.
  Item ItemAt(uint32_t slot) const;
  std::string_view IdAt(uint32_t slot) const { return storage_.IdOf(slot); }

  // Whether every live slot's vector codes exactly; O(items x dimension).
  // Callers hold the write lock.
  bool LiveCodesExact() const;
  // Trains the quantiser on every vector in the graph and codes them all;
  // callers hold the write lock (or own the index alone, as Load does).
  void TrainQuantizer();
  void EncodeSlot(uint32_t slot);
  // Replaces the walk's code distances of scratch.results with float ones.
  // Reads as few float rows as the k nearest need: it drops the candidates
  // that cannot be among them (see the definition).
  Status RerankOnFloats(const float* query, size_t k, SearchScratch& scratch) const;
  // Exact distances of scratch.reranked[begin..], from memory or from the
  // vector file in one batch of reads.
  Status MeasureOnFloats(const float* query, size_t begin, SearchScratch& scratch) const;
  static constexpr size_t kFirstRerankBatch = 16;
  static constexpr double kRerankSigmas = 4.0;
  Status RerankFromFile(const float* query, size_t k, SearchScratch& scratch) const;

  const IndexOptions options_;
  const DistanceMetric metric_;
  CodeKernel code_kernel_;
  BoundedCodeKernel grid_kernel_;
  BitPlaneKernel sketch_kernel_;
  const std::unique_ptr<VectorFile> vector_file_;  // before storage_, which maps it
  SlotStorage storage_;
  HnswGraph graph_;

  // Set once, inside a write, before codes_ready_; never changed after.
  std::unique_ptr<ScalarQuantizer> quantizer_;
  std::unique_ptr<BinarySketcher> sketcher_;
  // 0: walks read no sketches. Relaxed: a search reads it once.
  std::atomic<float> sketch_epsilon_{kDefaultSketchEpsilon};
  // Every slot in the graph has codes: searches may walk them.
  std::atomic<bool> fail_next_upsert_{false};
  std::atomic<bool> codes_ready_{false};
  // Every live item's code row decodes to its vector exactly (so the
  // quantiser is on a unit grid). Cleared, before the node can be reached,
  // by the first inexact row; set again by training (on Load) and by
  // Consolidate once no inexact item is left, while it holds the reclaim
  // lock (no search running): a search that reads it true after its walk saw
  // only exact codes in the items it returns.
  std::atomic<bool> codes_exact_{false};

  std::atomic<size_t> live_count_{0};

  // One write at a time; guards free_slots_, tombstones_ and the graph's
  // level generator.
  mutable std::mutex write_mutex_;
  // Held by Save while it streams slots out after releasing write_mutex_,
  // and by consolidation (the only code that rewrites a slot in use). Taken
  // after write_mutex_, or together with it (std::lock).
  mutable std::mutex snapshot_mutex_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> tombstones_;
  std::atomic<size_t> tombstone_count_{0};  // tombstones_.size(), readable without the lock

  // Held shared by everything that reads node data (searches, Get, scans);
  // held exclusively for the moment consolidated slots become reusable, so
  // that no reader can still be looking at a slot when it is rewritten.
  mutable std::shared_mutex reclaim_mutex_;

  // id -> slot of the live version, comparing against the slots' own ids
  // (IdAt). Written only inside writes.
  mutable std::shared_mutex ids_mutex_;
  SlotIdTable slot_by_id_;

  mutable ScratchPool scratch_pool_;
};

template <typename Fn>
void HnswIndex::ForEachLive(Fn&& fn) const {
  std::shared_lock reclaim(reclaim_mutex_);
  const uint32_t count = storage_.slot_count();
  for (uint32_t slot = 0; slot < count; ++slot) {
    if (!storage_.Is(slot, SlotState::kLive)) continue;
    const std::string* payload =
        storage_.NodeOf(slot).has_payload ? &storage_.PayloadOf(slot) : nullptr;
    fn(slot, std::string_view(storage_.IdOf(slot)), payload);
  }
}

}  // namespace vectord::engine
