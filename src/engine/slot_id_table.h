// SlotIdTable: the index's map from item id to slot. An open-addressing hash
// table (linear probing) of (32-bit hash, slot) pairs in one flat array: no
// allocation per item, 8 bytes an entry at most 3/4 full, and no copy of the
// ids. A probe compares hashes first and then the id the index itself stores
// for the slot, which every call reads through the `id_of` callable it is
// given (slot -> std::string_view). Removal shifts the following entries
// back, so no tombstones build up.
//
// Thread safety: none of its own. The index guards it with ids_mutex_:
// Find under a shared lock, the rest under an exclusive one. `id_of` must
// give a slot's id unchanged while the table points at that slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace vectord::engine {

class SlotIdTable {
 public:
  static uint32_t HashOf(std::string_view id) {
    const uint64_t h = std::hash<std::string_view>{}(id);
    return static_cast<uint32_t>(h ^ (h >> 32));
  }

  size_t size() const { return size_; }
  size_t memory_bytes() const { return entries_.capacity() * sizeof(Entry); }

  // Makes room for `count` ids without growing again.
  void Reserve(size_t count) {
    size_t capacity = 16;
    while (capacity / 4 * 3 < count) capacity *= 2;
    if (capacity > entries_.size()) Rehash(capacity);
  }

  template <typename IdOf>
  std::optional<uint32_t> Find(std::string_view id, IdOf&& id_of) const {
    if (size_ == 0) return std::nullopt;
    const uint32_t hash = HashOf(id);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.slot == kEmpty) return std::nullopt;
      if (e.hash == hash && id_of(e.slot) == id) return e.slot;
    }
  }

  // Points `id` at `slot`; returns the slot it pointed at before, if any.
  template <typename IdOf>
  std::optional<uint32_t> Assign(std::string_view id, uint32_t slot, IdOf&& id_of) {
    return Assign(id, HashOf(id), slot, id_of);
  }
  // The same with HashOf(id) given. A bulk load hashes its ids first and
  // calls Prefetch a few ids ahead: the table is larger than the caches, and
  // a miss per id would cost more than the rest of loading it.
  template <typename IdOf>
  std::optional<uint32_t> Assign(std::string_view id, uint32_t hash, uint32_t slot, IdOf&& id_of) {
    if ((size_ + 1) > entries_.size() / 4 * 3) Rehash(entries_.empty() ? 16 : entries_.size() * 2);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Entry& e = entries_[i];
      if (e.slot == kEmpty) {
        e = {hash, slot};
        ++size_;
        return std::nullopt;
      }
      if (e.hash == hash && id_of(e.slot) == id) return std::exchange(e.slot, slot);
    }
  }

  // Asks for the cache line an id of this hash probes first. Useful only
  // while no Assign grows the table (after Reserve).
  void Prefetch(uint32_t hash) const {
    if (!entries_.empty()) __builtin_prefetch(&entries_[hash & mask_]);
  }

  // Removes `id`; returns the slot it pointed at, if it was there.
  template <typename IdOf>
  std::optional<uint32_t> Erase(std::string_view id, IdOf&& id_of) {
    if (size_ == 0) return std::nullopt;
    const uint32_t hash = HashOf(id);
    size_t hole = hash & mask_;
    for (;; hole = (hole + 1) & mask_) {
      const Entry& e = entries_[hole];
      if (e.slot == kEmpty) return std::nullopt;
      if (e.hash == hash && id_of(e.slot) == id) break;
    }
    const uint32_t removed = entries_[hole].slot;
    // Shift back every later entry of the run that may fill the hole: one
    // whose home position does not lie cyclically in (hole, next].
    for (size_t next = (hole + 1) & mask_; entries_[next].slot != kEmpty;
         next = (next + 1) & mask_) {
      const size_t home = entries_[next].hash & mask_;
      const bool stays =
          hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
      if (stays) continue;
      entries_[hole] = entries_[next];
      hole = next;
    }
    entries_[hole].slot = kEmpty;
    --size_;
    return removed;
  }

  void Clear() {
    entries_.clear();
    entries_.shrink_to_fit();
    size_ = 0;
    mask_ = 0;
  }

 private:
  // Slots stay below 2^32 - 256 (SlotStorage::kMaxSlots), so this is never one.
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Entry {
    uint32_t hash;
    uint32_t slot;
  };

  void Rehash(size_t capacity) {
    std::vector<Entry> old(capacity, Entry{0, kEmpty});
    old.swap(entries_);
    mask_ = capacity - 1;
    for (const Entry& e : old) {
      if (e.slot == kEmpty) continue;
      size_t i = e.hash & mask_;
      while (entries_[i].slot != kEmpty) i = (i + 1) & mask_;
      entries_[i] = e;
    }
  }

  std::vector<Entry> entries_;  // capacity a power of two, or empty
  size_t size_ = 0;
  size_t mask_ = 0;
};

}  // namespace vectord::engine
