#include "service/metadata_index.h"

#include <simdjson.h>

#include <algorithm>
#include <mutex>

namespace vectord::service {

// One leaf of an item's metadata: its dotted path and value.
struct MetadataIndex::Leaf {
  std::string path;
  FilterValue value;
};

namespace {

// Appends every leaf under `element` (LeafT is MetadataIndex::Leaf, private:
// a template lets this helper name it by deduction).
template <typename LeafT>
void CollectInto(simdjson::dom::element element, std::string& path, std::vector<LeafT>* out) {
  using simdjson::dom::element_type;
  switch (element.type()) {
    case element_type::OBJECT: {
      for (auto field : simdjson::dom::object(element)) {
        const size_t length = path.size();
        if (!path.empty()) path += '.';
        path += field.key;
        CollectInto(field.value, path, out);
        path.resize(length);
      }
      return;
    }
    case element_type::ARRAY:
      // Elements sit under the array's own path: "tags": ["a", "b"] matches
      // {"key": "tags", "match": {"value": "a"}}.
      for (simdjson::dom::element item : simdjson::dom::array(element)) {
        CollectInto(item, path, out);
      }
      return;
    case element_type::STRING: {
      LeafT& leaf = out->emplace_back();
      leaf.path = path;
      leaf.value.kind = FilterValue::Kind::kString;
      leaf.value.text = std::string(std::string_view(element));
      return;
    }
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: {
      LeafT& leaf = out->emplace_back();
      leaf.path = path;
      leaf.value.kind = FilterValue::Kind::kNumber;
      double number = 0;
      if (element.type() == element_type::INT64) {
        number = static_cast<double>(int64_t(element));
      } else if (element.type() == element_type::UINT64) {
        number = static_cast<double>(uint64_t(element));
      } else {
        number = double(element);
      }
      leaf.value.number = number;
      return;
    }
    case element_type::BOOL: {
      LeafT& leaf = out->emplace_back();
      leaf.path = path;
      leaf.value.kind = FilterValue::Kind::kBool;
      leaf.value.boolean = bool(element);
      return;
    }
    case element_type::NULL_VALUE: return;  // null matches nothing
  }
}

void InsertSorted(std::vector<uint32_t>& postings, uint32_t slot) {
  auto it = std::lower_bound(postings.begin(), postings.end(), slot);
  if (it == postings.end() || *it != slot) postings.insert(it, slot);
}

// True when `postings` became empty.
bool EraseSorted(std::vector<uint32_t>& postings, uint32_t slot) {
  auto it = std::lower_bound(postings.begin(), postings.end(), slot);
  if (it != postings.end() && *it == slot) postings.erase(it);
  return postings.empty();
}

void SetAll(const std::vector<uint32_t>& postings, size_t slot_count, engine::SlotBitset& out) {
  for (uint32_t slot : postings) {
    if (slot >= slot_count) break;  // added after the caller took slot_count
    out.Set(slot);
  }
}

}  // namespace

void MetadataIndex::Update(uint32_t slot, std::string_view metadata, bool add) {
  // Parsing runs under the lock too: callers batch (AddAll / RemoveAll), and
  // a per-thread parser keeps it allocation-free after warm-up.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(metadata.data(), metadata.size()).get(root) ||
      root.type() != simdjson::dom::element_type::OBJECT) {
    return;
  }
  std::vector<Leaf> leaves;
  std::string path;
  CollectInto(root, path, &leaves);
  for (const Leaf& leaf : leaves) {
    if (add) {
      KeyIndex& key = keys_[leaf.path];
      switch (leaf.value.kind) {
        case FilterValue::Kind::kString: InsertSorted(key.strings[leaf.value.text], slot); break;
        case FilterValue::Kind::kNumber: InsertSorted(key.numbers[leaf.value.number], slot); break;
        case FilterValue::Kind::kBool: InsertSorted(key.booleans[leaf.value.boolean], slot); break;
      }
      continue;
    }
    auto found = keys_.find(leaf.path);
    if (found == keys_.end()) continue;
    KeyIndex& key = found->second;
    switch (leaf.value.kind) {
      case FilterValue::Kind::kString: {
        auto it = key.strings.find(leaf.value.text);
        if (it != key.strings.end() && EraseSorted(it->second, slot)) key.strings.erase(it);
        break;
      }
      case FilterValue::Kind::kNumber: {
        auto it = key.numbers.find(leaf.value.number);
        if (it != key.numbers.end() && EraseSorted(it->second, slot)) key.numbers.erase(it);
        break;
      }
      case FilterValue::Kind::kBool: EraseSorted(key.booleans[leaf.value.boolean], slot); break;
    }
    if (key.strings.empty() && key.numbers.empty() && key.booleans[0].empty() &&
        key.booleans[1].empty()) {
      keys_.erase(found);
    }
  }
}

void MetadataIndex::Add(uint32_t slot, std::string_view metadata) {
  std::unique_lock lock(mutex_);
  Update(slot, metadata, true);
}

void MetadataIndex::Remove(uint32_t slot, std::string_view metadata) {
  std::unique_lock lock(mutex_);
  Update(slot, metadata, false);
}

void MetadataIndex::AddAll(const std::vector<std::pair<uint32_t, std::string_view>>& items) {
  std::unique_lock lock(mutex_);
  for (const auto& [slot, metadata] : items) Update(slot, metadata, true);
}

void MetadataIndex::RemoveAll(const std::vector<std::pair<uint32_t, std::string_view>>& items) {
  std::unique_lock lock(mutex_);
  for (const auto& [slot, metadata] : items) Update(slot, metadata, false);
}

engine::SlotBitset MetadataIndex::Evaluate(
    const FilterGroup& filter, size_t slot_count,
    const std::function<std::optional<uint32_t>(std::string_view)>& slot_of_id) const {
  std::shared_lock lock(mutex_);
  return EvaluateGroup(filter, slot_count, slot_of_id);
}

engine::SlotBitset MetadataIndex::EvaluateGroup(
    const FilterGroup& group, size_t slot_count,
    const std::function<std::optional<uint32_t>(std::string_view)>& slot_of_id) const {
  engine::SlotBitset result = engine::SlotBitset::All(slot_count);
  for (const FilterCondition& c : group.must) {
    result.IntersectWith(EvaluateCondition(c, slot_count, slot_of_id));
  }
  if (!group.should.empty()) {
    engine::SlotBitset any(slot_count);
    for (const FilterCondition& c : group.should) {
      any.UnionWith(EvaluateCondition(c, slot_count, slot_of_id));
    }
    result.IntersectWith(any);
  }
  for (const FilterCondition& c : group.must_not) {
    result.Subtract(EvaluateCondition(c, slot_count, slot_of_id));
  }
  return result;
}

engine::SlotBitset MetadataIndex::EvaluateCondition(
    const FilterCondition& condition, size_t slot_count,
    const std::function<std::optional<uint32_t>(std::string_view)>& slot_of_id) const {
  using Type = FilterCondition::Type;
  engine::SlotBitset out(slot_count);
  switch (condition.type) {
    case Type::kGroup: return EvaluateGroup(*condition.group, slot_count, slot_of_id);
    case Type::kHasId:
      for (const std::string& id : condition.ids) {
        auto slot = slot_of_id(id);
        if (slot && *slot < slot_count) out.Set(*slot);
      }
      return out;
    case Type::kMatch:
    case Type::kMatchAny: {
      auto found = keys_.find(condition.key);
      if (found == keys_.end()) return out;
      const KeyIndex& key = found->second;
      for (const FilterValue& value : condition.values) {
        switch (value.kind) {
          case FilterValue::Kind::kString: {
            auto it = key.strings.find(value.text);
            if (it != key.strings.end()) SetAll(it->second, slot_count, out);
            break;
          }
          case FilterValue::Kind::kNumber: {
            auto it = key.numbers.find(value.number);
            if (it != key.numbers.end()) SetAll(it->second, slot_count, out);
            break;
          }
          case FilterValue::Kind::kBool:
            SetAll(key.booleans[value.boolean], slot_count, out);
            break;
        }
      }
      return out;
    }
    case Type::kRange: {
      auto found = keys_.find(condition.key);
      if (found == keys_.end()) return out;
      const auto& numbers = found->second.numbers;
      auto it = numbers.begin();
      std::optional<double> low = condition.gte;
      if (condition.gt) low = low ? std::max(*low, *condition.gt) : *condition.gt;
      if (low) it = numbers.lower_bound(*low);
      for (; it != numbers.end(); ++it) {
        const double v = it->first;
        if ((condition.lt && v >= *condition.lt) || (condition.lte && v > *condition.lte)) break;
        if ((condition.gt && v <= *condition.gt) || (condition.gte && v < *condition.gte)) continue;
        SetAll(it->second, slot_count, out);
      }
      return out;
    }
  }
  return out;
}

size_t MetadataIndex::memory_bytes() const {
  std::shared_lock lock(mutex_);
  // Per node of a hash or tree map: the pair, a pointer or three, the hash
  // or colour; plus the bucket array. Estimates, not allocator truth.
  constexpr size_t kHashNode = 16, kTreeNode = 32;
  auto postings = [](const Postings& p) { return sizeof(Postings) + p.capacity() * 4; };
  auto text = [](const std::string& s) {
    return sizeof(std::string) + (s.size() > 15 ? s.capacity() + 1 : 0);
  };
  size_t bytes = keys_.bucket_count() * sizeof(void*);
  for (const auto& [path, key] : keys_) {
    bytes += kHashNode + text(path) + sizeof(KeyIndex) + key.strings.bucket_count() * sizeof(void*);
    for (const auto& [value, p] : key.strings) bytes += kHashNode + text(value) + postings(p);
    for (const auto& [value, p] : key.numbers) bytes += kTreeNode + sizeof(double) + postings(p);
    bytes += (key.booleans[0].capacity() + key.booleans[1].capacity()) * 4;
  }
  return bytes;
}

}  // namespace vectord::service
