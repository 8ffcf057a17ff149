// MetadataIndex: an inverted index over every key of the items' JSON
// metadata, built as items arrive (no declaration of keys), so that a Filter
// becomes a SlotBitset without parsing any item's JSON at query time.
//
// Every leaf of an item's metadata object is indexed under its dotted path
// ("a.b"; array elements under the path of the array): strings in a hash map
// of exact values, numbers (as doubles) in an ordered map for equality and
// ranges, booleans in two lists. Each value keeps a sorted vector of slots.
// Memory: about 4 bytes per (item, leaf) plus the map entry of each distinct
// value (some 50–80 bytes with its key), see docs/metadata-filters.md.
//
// Thread safety: Add and Remove take an exclusive lock, Evaluate a shared
// one; any number of threads may call them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/slot_bitset.h"
#include "service/filter.h"

namespace vectord::service {

class MetadataIndex {
 public:
  // Indexes (or un-indexes) the item in `slot` under every leaf of
  // `metadata`. Metadata that is not a JSON object indexes nothing. Remove
  // must be given the same text Add was.
  void Add(uint32_t slot, std::string_view metadata);
  void Remove(uint32_t slot, std::string_view metadata);
  // The same for many items under one lock: (slot, metadata) pairs.
  void AddAll(const std::vector<std::pair<uint32_t, std::string_view>>& items);
  void RemoveAll(const std::vector<std::pair<uint32_t, std::string_view>>& items);

  // The slots below `slot_count` that `filter` lets through, as far as
  // metadata goes: callers still drop slots that hold no live item.
  // `slot_of_id` resolves has_id conditions.
  engine::SlotBitset Evaluate(
      const FilterGroup& filter, size_t slot_count,
      const std::function<std::optional<uint32_t>(std::string_view)>& slot_of_id) const;

  // Bytes held by the index structures (an estimate from container sizes).
  size_t memory_bytes() const;

 private:
  using Postings = std::vector<uint32_t>;  // sorted, no duplicates
  struct KeyIndex {
    std::unordered_map<std::string, Postings> strings;
    std::map<double, Postings> numbers;
    Postings booleans[2];
  };
  struct Leaf;

  void Update(uint32_t slot, std::string_view metadata, bool add);
  engine::SlotBitset EvaluateGroup(
      const FilterGroup& group, size_t slot_count,
      const std::function<std::optional<uint32_t>(std::string_view)>& slot_of_id) const;
  engine::SlotBitset EvaluateCondition(
      const FilterCondition& condition, size_t slot_count,
      const std::function<std::optional<uint32_t>(std::string_view)>& slot_of_id) const;

  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, KeyIndex> keys_;
};

}  // namespace vectord::service
