// SlotStorage: where an index keeps its items, slot by slot — vectors,
// level-0 links, SQ8 code rows, per-slot state, upper-level links, ids and
// payloads — and what that memory costs. It knows nothing of graphs or
// distances: the graph reads and writes links through it, the index decides
// what goes in which slot.
//
// Layout: every slot's vector and level-0 links sit in one fixed-size row,
// rows in a few geometrically growing chunks (chunk c holds 64 << c slots):
// no heap object per node, and no copy when the index grows, so a slot's
// address never changes while readers hold it. An SQ8 index also gives each
// slot a code row ([codes][f32 squared norm of the decoded vector][f32 code
// error][u32 count, u32 links[2M]]) and keeps the level-0 links there, beside the codes a
// search reads, instead of in the float row, and a sketch row (a 1-bit
// sketch and its factors, binary_sketch.h) that a walk reads first.
//
// Thread safety: the accessors do no locking of their own. Chunks are
// published with release stores and never move or shrink, so any thread may
// read a slot below slot_count(). Links are read and written under the
// slot's one-byte spinlock (LockNode/CopyLinks); states are atomic; vectors,
// ids and payloads are written only while their slot is not yet reachable
// (or under the owner's reclaim lock) — HnswIndex's locking rules say when.
// The heap-byte counters are atomics, changed only by the index's writes.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/short_string.h"
#include "engine/vector_file.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace vectord::engine {

// Per-slot state, stored in index files.
enum class SlotState : uint8_t {
  kFree = 0,     // never used, or reclaimed: not in the graph
  kPending = 1,  // inserted by a write in progress: in the graph, not yet a result
  kLive = 2,
  kDeleted = 3,  // tombstone: still links the graph, never a result
};

// Bytes an index holds, by what they are for.
struct MemoryUsage {
  size_t vector_and_link_bytes = 0;  // level-0 rows in use in memory (not in a vector file)
  size_t code_bytes = 0;             // SQ8 code and sketch rows in use
  size_t upper_link_bytes = 0;
  size_t node_bytes = 0;  // per-slot bookkeeping (state, level, norm, lock)
  size_t id_bytes = 0;    // ids and id map
  size_t payload_bytes = 0;
  // Not memory: the vector rows in use in the vector file, on disk.
  size_t disk_vector_bytes = 0;
  size_t total() const {
    return vector_and_link_bytes + code_bytes + upper_link_bytes + node_bytes + id_bytes +
           payload_bytes;
  }
};

// The row sizes that follow from an index's dimension, M and quantisation.
struct SlotLayout {
  // `compact`: code and sketch rows rounded to 16 bytes rather than a cache
  // line (64): for an index whose memory holds only those rows (vectors on
  // disk), where the padding would be a fifth of it at low dimensions.
  SlotLayout(uint32_t dimension, uint32_t m, bool with_codes, bool compact = false);

  uint32_t level0_capacity;  // 2M
  uint32_t upper_capacity;   // M
  size_t vector_floats;      // dimension rounded up to 16 floats
  // The float row in memory (or in the vector file): the vector, and the
  // level-0 links [count, links] unless the code row holds them; to 64 bytes.
  size_t row_bytes;
  // The row of the index file's level-0 section: vector + [count, links],
  // to 64 bytes, whatever the index keeps in memory (docs/index-file-format.md).
  size_t file_row_bytes;
  size_t code_row_bytes;    // SQ8: codes + squared norm + error + level-0 links; else 0
  size_t sketch_row_bytes;  // SQ8: a 1-bit sketch and its factors; else 0
};

class SlotStorage {
 public:
  // Slots are uint32; keep clear of overflow in Locate's arithmetic.
  static constexpr uint64_t kMaxSlots = (uint64_t{1} << 32) - 256;
  static constexpr int kChunkCount = 27;
  static constexpr int kFirstChunkShift = 6;  // chunk c holds 64 << c slots

  struct Node {
    std::atomic<uint8_t> lock{0};
    std::atomic<uint8_t> state{0};
    uint8_t level = 0;
    uint8_t has_payload = 0;
    float norm = 0;  // cosine: the length of the vector as given
  };

  struct Chunk {
    ~Chunk();
    Chunk(const Chunk&) = delete;
    Chunk& operator=(const Chunk&) = delete;

    // `file_rows`, when given, is a mapping of the vector file to use for
    // the rows (the chunk unmaps it); otherwise they are anonymous memory.
    Chunk(size_t slots, const SlotLayout& layout, std::byte* file_rows);

    size_t slots;
    size_t rows_bytes;
    std::byte* rows;  // slots * row_bytes, zero-filled, page-aligned
    bool rows_in_file;
    size_t codes_bytes;
    std::byte* codes;  // slots * code_row_bytes (SQ8 only, else null)
    size_t sketches_bytes;
    std::byte* sketches;  // slots * sketch_row_bytes (SQ8 only, else null)
    std::unique_ptr<Node[]> nodes;
    std::unique_ptr<std::unique_ptr<uint32_t[]>[]> upper_links;  // level * (1 + M) per node
    std::unique_ptr<ShortString[]> ids;
    // Null for an item without one (most have none: a pointer, not a
    // string, per slot).
    std::unique_ptr<std::unique_ptr<std::string>[]> payloads;
  };

  struct Location {
    Chunk* chunk;
    uint32_t offset;
  };

  // With a vector file, the float rows live there (VectorPlacement::kDisk);
  // the file must outlive the storage.
  explicit SlotStorage(const SlotLayout& layout, VectorFile* vector_file = nullptr)
      : layout_(layout), vector_file_(vector_file) {}
  ~SlotStorage();
  SlotStorage(const SlotStorage&) = delete;
  SlotStorage& operator=(const SlotStorage&) = delete;

  const SlotLayout& layout() const { return layout_; }
  // Null unless the float rows live in a file.
  VectorFile* vector_file() const { return vector_file_; }
  // Gives the pages of the float rows that this process has mapped back to
  // the page cache (rows in a file only; a no-op otherwise). Any thread.
  void ReleaseResidentRows() const;

  // Makes slots [0, slots) addressable; NoSpace past kMaxSlots or when the
  // memory cannot be had. Any thread: growth is serialised inside.
  Status EnsureCapacity(uint32_t slots);
  // The chunk that holds slot 64 << c - 64 onwards, or null.
  Chunk* chunk(int c) const { return chunks_[c].load(std::memory_order_acquire); }

  // Sketch rows are reserved with the code rows but filled (and counted in
  // Usage) only once the index says it keeps sketches.
  void set_sketches_in_use() { sketches_in_use_.store(true, std::memory_order_relaxed); }

  // One past the highest slot in use; grows only.
  uint32_t slot_count() const { return slot_count_.load(std::memory_order_acquire); }
  void set_slot_count(uint32_t count) { slot_count_.store(count, std::memory_order_release); }

  // Inline: a walk calls these for every neighbour it looks at.
  Location Locate(uint32_t slot) const {
    const uint64_t s = uint64_t{slot} + (uint64_t{1} << kFirstChunkShift);
    const int c = std::bit_width(s) - 1 - kFirstChunkShift;
    const uint32_t offset = static_cast<uint32_t>(s - (uint64_t{1} << (c + kFirstChunkShift)));
    return {chunks_[c].load(std::memory_order_acquire), offset};
  }
  Node& NodeOf(uint32_t slot) const {
    const Location loc = Locate(slot);
    return loc.chunk->nodes[loc.offset];
  }
  float* VectorOf(uint32_t slot) const {
    const Location loc = Locate(slot);
    return reinterpret_cast<float*>(loc.chunk->rows + loc.offset * layout_.row_bytes);
  }
  uint8_t* CodesOf(uint32_t slot) const {
    const Location loc = Locate(slot);
    return reinterpret_cast<uint8_t*>(loc.chunk->codes + loc.offset * layout_.code_row_bytes);
  }
  uint8_t* SketchOf(uint32_t slot) const {
    const Location loc = Locate(slot);
    return reinterpret_cast<uint8_t*>(loc.chunk->sketches + loc.offset * layout_.sketch_row_bytes);
  }
  // The squared norm of the decoded vector, stored after the codes.
  float* CodeNormOf(uint32_t slot) const {
    return reinterpret_cast<float*>(CodesOf(slot) + layout_.vector_floats);
  }
  // How far the decoded vector is from the vector (the norm of the
  // difference), negative when a component fell outside the quantiser's
  // range: after the squared norm.
  float* CodeErrorOf(uint32_t slot) const {
    return reinterpret_cast<float*>(CodesOf(slot) + layout_.vector_floats + sizeof(float));
  }
  // [count, links...] at level 0: in the code row of an SQ8 index, else in
  // the float row.
  uint32_t* Level0LinksOf(uint32_t slot) const {
    if (layout_.code_row_bytes != 0) {
      return reinterpret_cast<uint32_t*>(CodesOf(slot) + layout_.vector_floats + 2 * sizeof(float));
    }
    return reinterpret_cast<uint32_t*>(reinterpret_cast<std::byte*>(VectorOf(slot)) +
                                       layout_.vector_floats * sizeof(float));
  }
  uint32_t* LinksOf(uint32_t slot, int level) const {
    if (level == 0) return Level0LinksOf(slot);
    const Location loc = Locate(slot);
    return loc.chunk->upper_links[loc.offset].get() + (level - 1) * (layout_.upper_capacity + 1);
  }
  uint8_t LevelOf(uint32_t slot) const { return NodeOf(slot).level; }
  uint8_t StateOf(uint32_t slot) const {
    return NodeOf(slot).state.load(std::memory_order_acquire);
  }
  bool Is(uint32_t slot, SlotState state) const {
    return StateOf(slot) == static_cast<uint8_t>(state);
  }
  void SetState(uint32_t slot, SlotState state) {
    NodeOf(slot).state.store(static_cast<uint8_t>(state), std::memory_order_release);
  }
  std::string_view IdOf(uint32_t slot) const {
    const Location loc = Locate(slot);
    return loc.chunk->ids[loc.offset].view();
  }
  // Sets the id of a slot no reader can reach (a loader's way in; Fill
  // keeps the heap counters, a loader sets them itself).
  void SetId(uint32_t slot, std::string_view id) {
    const Location loc = Locate(slot);
    loc.chunk->ids[loc.offset].assign(id);
  }
  // Only of a slot whose node has_payload.
  std::string& PayloadOf(uint32_t slot) const {
    const Location loc = Locate(slot);
    return *loc.chunk->payloads[loc.offset];
  }
  // Gives the slot an empty payload to fill (a loader's way in; the heap
  // counters are the caller's to set).
  std::string& MakePayload(uint32_t slot) {
    const Location loc = Locate(slot);
    loc.chunk->payloads[loc.offset] = std::make_unique<std::string>();
    return *loc.chunk->payloads[loc.offset];
  }
  std::unique_ptr<uint32_t[]>& UpperLinksOf(uint32_t slot) const {
    const Location loc = Locate(slot);
    return loc.chunk->upper_links[loc.offset];
  }
  void PrefetchNode(uint32_t slot) const {
#if defined(__x86_64__)
    _mm_prefetch(reinterpret_cast<const char*>(&NodeOf(slot)), _MM_HINT_T0);
#else
    (void)slot;
#endif
  }

  // The node's spinlock, held for the microseconds a link list is read or
  // rewritten. Inline: a walk takes one for every node it expands.
  void LockNode(uint32_t slot) const {
    std::atomic<uint8_t>& lock = NodeOf(slot).lock;
    if (lock.exchange(1, std::memory_order_acquire) != 0) WaitForLock(lock);
  }
  void UnlockNode(uint32_t slot) const { NodeOf(slot).lock.store(0, std::memory_order_release); }
  // Copies the node's links at `level` into `out` under its lock; returns
  // their count.
  uint32_t CopyLinks(uint32_t slot, int level, uint32_t* out) const {
    LockNode(slot);
    const uint32_t* links = LinksOf(slot, level);
    const uint32_t count = links[0];
    std::copy_n(links + 1, count, out);
    UnlockNode(slot);
    return count;
  }

  // Gives a new item's slot its level (allocating its upper links), id and
  // payload, keeping the memory counters. The slot must not be reachable.
  void Fill(uint32_t slot, int level, std::string_view id, const std::string_view* payload);
  // Empties a deleted slot for reuse (links, id, payload, level, norm) and
  // marks it free. No reader may be looking at it.
  void Clear(uint32_t slot);

  // Heap bytes behind the slots (ids, payloads, upper links).
  struct HeapBytes {
    size_t upper_links = 0, ids = 0, payloads = 0;
    void Add(const HeapBytes& other) {
      upper_links += other.upper_links;
      ids += other.ids;
      payloads += other.payloads;
    }
  };
  HeapBytes HeapBytesOf(uint32_t slot) const;
  // Sets the counters, e.g. from a loader's own pass over the slots.
  void SetHeapBytes(const HeapBytes& totals);

  // From counters the writes keep: no lock, no walk.
  MemoryUsage Usage(size_t id_table_bytes) const;
  // The same, counted by walking every slot: for tests that check the
  // counters. Callers exclude writes.
  MemoryUsage CountUsage(size_t id_table_bytes) const;

 private:
  // LockNode's slow path: spins, then yields, until it holds `lock`.
  static void WaitForLock(std::atomic<uint8_t>& lock);
  // Moves the counters by what one slot's rewrite changed.
  void AdjustHeapBytes(const HeapBytes& before, const HeapBytes& after);
  MemoryUsage UsageWith(const HeapBytes& heap, size_t id_table_bytes) const;

  const SlotLayout layout_;
  VectorFile* const vector_file_;
  std::mutex growth_mutex_;  // EnsureCapacity: one grower at a time
  std::atomic<Chunk*> chunks_[kChunkCount] = {};
  std::atomic<uint32_t> slot_count_{0};
  std::atomic<bool> sketches_in_use_{false};
  struct {
    std::atomic<size_t> upper_links{0}, ids{0}, payloads{0};
  } heap_bytes_;
};

}  // namespace vectord::engine
