// SlotBitset: a set of index slots, used to restrict a search to the items a
// filter lets through.
//
// Thread safety: none of its own; build it on one thread, then share it
// read-only with any number of searches.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vectord::engine {

class SlotBitset {
 public:
  SlotBitset() = default;
  explicit SlotBitset(size_t slots) : words_((slots + 63) / 64, 0), slots_(slots) {}

  size_t slots() const { return slots_; }

  void Set(uint32_t slot) {
    if (slot >= slots_) Grow(slot + 1);
    uint64_t& word = words_[slot >> 6];
    uint64_t bit = uint64_t{1} << (slot & 63);
    count_ += (word & bit) == 0;
    word |= bit;
  }
  void Reset(uint32_t slot) {
    if (slot >= slots_) return;
    uint64_t& word = words_[slot >> 6];
    uint64_t bit = uint64_t{1} << (slot & 63);
    count_ -= (word & bit) != 0;
    word &= ~bit;
  }
  bool Test(uint32_t slot) const { return slot < slots_ && (words_[slot >> 6] >> (slot & 63)) & 1; }
  // Number of slots in the set.
  size_t count() const { return count_; }

  // Calls fn(slot) for every slot in the set, in increasing order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t w = 0; w < words_.size(); ++w) {
      uint64_t bits = words_[w];
      while (bits != 0) {
        fn(static_cast<uint32_t>(w * 64 + std::countr_zero(bits)));
        bits &= bits - 1;
      }
    }
  }

 private:
  void Grow(size_t slots) {
    slots_ = slots;
    words_.resize((slots + 63) / 64, 0);
  }

  std::vector<uint64_t> words_;
  size_t slots_ = 0;
  size_t count_ = 0;
};

}  // namespace vectord::engine
