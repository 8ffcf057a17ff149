// SlotBitset: a set of index slots, used to restrict a search to the items a
// filter lets through.
//
// Thread safety: none of its own; build it on one thread, then share it
// read-only with any number of searches.
#pragma once

#include <algorithm>
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

  // Every slot below `slots`.
  static SlotBitset All(size_t slots) {
    SlotBitset all(slots);
    std::fill(all.words_.begin(), all.words_.end(), ~uint64_t{0});
    if (slots % 64 != 0 && !all.words_.empty())
      all.words_.back() = (uint64_t{1} << (slots % 64)) - 1;
    all.count_ = slots;
    return all;
  }
  // Set algebra in place; the other set may have any size.
  void IntersectWith(const SlotBitset& other) {
    for (size_t w = 0; w < words_.size(); ++w) {
      words_[w] &= w < other.words_.size() ? other.words_[w] : 0;
    }
    Recount();
  }
  void UnionWith(const SlotBitset& other) {
    if (other.slots_ > slots_) Grow(other.slots_);
    for (size_t w = 0; w < other.words_.size(); ++w) words_[w] |= other.words_[w];
    Recount();
  }
  void Subtract(const SlotBitset& other) {
    for (size_t w = 0; w < std::min(words_.size(), other.words_.size()); ++w) {
      words_[w] &= ~other.words_[w];
    }
    Recount();
  }

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
  void Recount() {
    count_ = 0;
    for (uint64_t word : words_) count_ += static_cast<size_t>(std::popcount(word));
  }
  void Grow(size_t slots) {
    slots_ = slots;
    words_.resize((slots + 63) / 64, 0);
  }

  std::vector<uint64_t> words_;
  size_t slots_ = 0;
  size_t count_ = 0;
};

}  // namespace vectord::engine
