#include "engine/slot_storage.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>
#include <string>
#include <thread>

#include "engine/binary_sketch.h"

namespace vectord::engine {
namespace {

std::byte* MapZeroed(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
  // Searches jump between rows at random: with 4 KiB pages nearly every
  // vector they read is also a TLB miss. Best effort (THP may be off); the
  // cost is at most one partly used 2 MiB page at the end of the newest chunk.
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return static_cast<std::byte*>(p);
}

inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// What a std::string holds on the heap beyond its own object (libstdc++
// keeps up to 15 characters inside it).
size_t StringHeapBytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

size_t RoundUp(size_t bytes, size_t to) { return (bytes + to - 1) / to * to; }

}  // namespace

SlotLayout::SlotLayout(uint32_t dimension, uint32_t m, bool with_codes, bool compact)
    : level0_capacity(2 * m),
      upper_capacity(m),
      vector_floats(RoundUp(dimension, 16)),
      row_bytes(with_codes
                    ? RoundUp(vector_floats * sizeof(float), 64)
                    : RoundUp(vector_floats * sizeof(float) + (1 + 2 * m) * sizeof(uint32_t), 64)),
      file_row_bytes(RoundUp(vector_floats * sizeof(float) + (1 + 2 * m) * sizeof(uint32_t), 64)),
      code_row_bytes(
          with_codes ? RoundUp(vector_floats + 2 * sizeof(float) + (1 + 2 * m) * sizeof(uint32_t),
                               compact ? 16 : 64)
                     : 0),
      sketch_row_bytes(with_codes ? RoundUp(BinarySketcher::BytesFor(dimension), compact ? 16 : 64)
                                  : 0) {}

SlotStorage::Chunk::Chunk(size_t slot_count, const SlotLayout& layout, std::byte* file_rows)
    : slots(slot_count),
      rows_bytes(slot_count * layout.row_bytes),
      rows(file_rows),
      rows_in_file(file_rows != nullptr),
      codes_bytes(slot_count * layout.code_row_bytes),
      codes(nullptr),
      sketches_bytes(slot_count * layout.sketch_row_bytes),
      sketches(nullptr),
      nodes(new Node[slot_count]),
      upper_links(new std::unique_ptr<uint32_t[]>[slot_count]),
      ids(new ShortString[slot_count]),
      payloads(new std::unique_ptr<std::string>[slot_count]) {
  // Anonymous pages are zero-filled and take memory only when first touched,
  // so the unused tail of the newest chunk costs address space, not RAM.
  try {
    if (!rows_in_file) rows = MapZeroed(rows_bytes);
    codes = MapZeroed(codes_bytes);
    sketches = MapZeroed(sketches_bytes);
  } catch (const std::bad_alloc&) {
    if (rows != nullptr) munmap(rows, rows_bytes);
    if (codes != nullptr) munmap(codes, codes_bytes);
    throw;
  }
}

SlotStorage::Chunk::~Chunk() {
  if (rows != nullptr) munmap(rows, rows_bytes);
  if (codes != nullptr) munmap(codes, codes_bytes);
  if (sketches != nullptr) munmap(sketches, sketches_bytes);
}

SlotStorage::~SlotStorage() {
  for (auto& c : chunks_) delete c.load(std::memory_order_relaxed);
}

Status SlotStorage::EnsureCapacity(uint32_t slots) {
  if (slots > kMaxSlots) return Status::NoSpace("index is full");
  std::lock_guard growth(growth_mutex_);
  uint64_t capacity = 0;
  for (int c = 0; c < kChunkCount; ++c) {
    uint64_t chunk_slots = uint64_t{1} << (c + kFirstChunkShift);
    if (chunks_[c].load(std::memory_order_relaxed) == nullptr) {
      if (capacity >= slots) break;
      std::byte* file_rows = nullptr;
      if (vector_file_ != nullptr) {
        // Chunks are consecutive in the file as in slot order: chunk c
        // starts at slot (64 << c) - 64, a multiple of 64 rows of a multiple
        // of 64 bytes, so on a page boundary as mmap needs.
        const uint64_t first_slot = chunk_slots - (uint64_t{1} << kFirstChunkShift);
        VECTORD_ASSIGN_OR_RETURN(file_rows,
                                 vector_file_->MapRegion(first_slot * layout_.row_bytes,
                                                         chunk_slots * layout_.row_bytes));
      }
      try {
        chunks_[c].store(new Chunk(chunk_slots, layout_, file_rows), std::memory_order_release);
      } catch (const std::bad_alloc&) {
        return Status::NoSpace("out of memory growing the index to " + std::to_string(slots) +
                               " slots");
      }
    }
    capacity += chunk_slots;
  }
  return Status::Ok();
}

void SlotStorage::ReleaseResidentRows() const {
  if (vector_file_ == nullptr) return;
  for (int c = 0; c < kChunkCount; ++c) {
    const Chunk* ch = chunk(c);
    if (ch != nullptr) ReleaseResident(ch->rows, ch->rows_bytes);
  }
}

void SlotStorage::WaitForLock(std::atomic<uint8_t>& lock) {
  do {
    // Held for microseconds, unless its holder lost its core (writers may
    // run at a lower priority than searches): then give the core up rather
    // than spin through the holder's wait.
    for (int spins = 0; lock.load(std::memory_order_relaxed) != 0; ++spins) {
      if (spins < 1024) {
        CpuRelax();
      } else {
        std::this_thread::yield();
      }
    }
  } while (lock.exchange(1, std::memory_order_acquire) != 0);
}

void SlotStorage::Fill(uint32_t slot, int level, std::string_view id,
                       const std::string_view* payload) {
  const Location loc = Locate(slot);
  Node& node = loc.chunk->nodes[loc.offset];
  const HeapBytes before = HeapBytesOf(slot);
  node.level = static_cast<uint8_t>(level);
  node.has_payload = payload != nullptr;
  if (level > 0) {
    loc.chunk->upper_links[loc.offset] =
        std::make_unique<uint32_t[]>(static_cast<size_t>(level) * (layout_.upper_capacity + 1));
  }
  loc.chunk->ids[loc.offset].assign(id);
  if (payload != nullptr) {
    loc.chunk->payloads[loc.offset] = std::make_unique<std::string>(*payload);
  } else {
    loc.chunk->payloads[loc.offset].reset();
  }
  AdjustHeapBytes(before, HeapBytesOf(slot));
}

void SlotStorage::Clear(uint32_t slot) {
  const Location loc = Locate(slot);
  Node& node = loc.chunk->nodes[loc.offset];
  const HeapBytes before = HeapBytesOf(slot);
  Level0LinksOf(slot)[0] = 0;
  loc.chunk->upper_links[loc.offset].reset();
  loc.chunk->ids[loc.offset].clear();
  loc.chunk->payloads[loc.offset].reset();
  node.level = 0;
  node.has_payload = 0;
  node.norm = 0;
  AdjustHeapBytes(before, HeapBytesOf(slot));
  node.state.store(static_cast<uint8_t>(SlotState::kFree), std::memory_order_release);
}

SlotStorage::HeapBytes SlotStorage::HeapBytesOf(uint32_t slot) const {
  const Location loc = Locate(slot);
  HeapBytes heap;
  heap.upper_links = static_cast<size_t>(loc.chunk->nodes[loc.offset].level) *
                     (layout_.upper_capacity + 1) * sizeof(uint32_t);
  heap.ids = loc.chunk->ids[loc.offset].heap_bytes();
  if (const std::string* payload = loc.chunk->payloads[loc.offset].get()) {
    heap.payloads = sizeof(std::string) + StringHeapBytes(*payload);
  }
  return heap;
}

void SlotStorage::AdjustHeapBytes(const HeapBytes& before, const HeapBytes& after) {
  // Unsigned wrap-around makes a shrink a subtraction.
  heap_bytes_.upper_links.fetch_add(after.upper_links - before.upper_links,
                                    std::memory_order_relaxed);
  heap_bytes_.ids.fetch_add(after.ids - before.ids, std::memory_order_relaxed);
  heap_bytes_.payloads.fetch_add(after.payloads - before.payloads, std::memory_order_relaxed);
}

void SlotStorage::SetHeapBytes(const HeapBytes& totals) {
  heap_bytes_.upper_links.store(totals.upper_links, std::memory_order_relaxed);
  heap_bytes_.ids.store(totals.ids, std::memory_order_relaxed);
  heap_bytes_.payloads.store(totals.payloads, std::memory_order_relaxed);
}

MemoryUsage SlotStorage::UsageWith(const HeapBytes& heap, size_t id_table_bytes) const {
  MemoryUsage usage;
  const size_t count = slot_count();
  if (vector_file_ != nullptr) {
    usage.disk_vector_bytes = count * layout_.row_bytes;
  } else {
    usage.vector_and_link_bytes = count * layout_.row_bytes;
  }
  const size_t sketch_row_bytes =
      sketches_in_use_.load(std::memory_order_relaxed) ? layout_.sketch_row_bytes : 0;
  usage.code_bytes = count * (layout_.code_row_bytes + sketch_row_bytes);
  usage.node_bytes = count * (sizeof(Node) + sizeof(void*));
  usage.upper_link_bytes = heap.upper_links;
  usage.id_bytes = count * sizeof(ShortString) + heap.ids + id_table_bytes;
  usage.payload_bytes = count * sizeof(void*) + heap.payloads;
  return usage;
}

MemoryUsage SlotStorage::Usage(size_t id_table_bytes) const {
  HeapBytes heap;
  heap.upper_links = heap_bytes_.upper_links.load(std::memory_order_relaxed);
  heap.ids = heap_bytes_.ids.load(std::memory_order_relaxed);
  heap.payloads = heap_bytes_.payloads.load(std::memory_order_relaxed);
  return UsageWith(heap, id_table_bytes);
}

MemoryUsage SlotStorage::CountUsage(size_t id_table_bytes) const {
  HeapBytes totals;
  const uint32_t count = slot_count();
  for (uint32_t slot = 0; slot < count; ++slot) totals.Add(HeapBytesOf(slot));
  return UsageWith(totals, id_table_bytes);
}

}  // namespace vectord::engine
