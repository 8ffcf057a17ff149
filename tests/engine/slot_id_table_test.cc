#include "engine/slot_id_table.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace vectord::engine {
namespace {

// The table keeps no ids: slot i's id lives here, as an index keeps it in
// its slots.
struct Ids {
  std::vector<std::string> by_slot;
  std::string_view operator()(uint32_t slot) const { return by_slot.at(slot); }
};

TEST(SlotIdTable, FindsAssignsReplacesAndErases) {
  Ids ids{{"a", "b", "a"}};
  SlotIdTable table;
  EXPECT_FALSE(table.Find("a", ids));
  EXPECT_FALSE(table.Erase("a", ids));
  EXPECT_FALSE(table.Assign("a", 0, ids));
  EXPECT_FALSE(table.Assign("b", 1, ids));
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.Find("a", ids), 0u);
  // Slot 2 holds a new version of "a".
  EXPECT_EQ(table.Assign("a", 2, ids), 0u);
  EXPECT_EQ(table.Find("a", ids), 2u);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.Erase("a", ids), 2u);
  EXPECT_FALSE(table.Find("a", ids));
  EXPECT_EQ(table.Find("b", ids), 1u);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_FALSE(table.Find("", ids));
}

// Random assigns and erases against std::unordered_map, in a table that
// grows from empty and runs up to its 3/4 load: long probe runs that wrap
// around the end, and erases that shift entries back across them.
TEST(SlotIdTable, AgreesWithAHashMapThroughRandomChanges) {
  std::mt19937 rng(5);
  const size_t universe = 6000;
  Ids ids;
  std::unordered_map<std::string, uint32_t> model;
  SlotIdTable table;
  std::vector<std::string> names(universe);
  for (size_t i = 0; i < universe; ++i) names[i] = "id-" + std::to_string(i * 7919);
  for (int step = 0; step < 60000; ++step) {
    const std::string& name = names[rng() % (step < 20000 ? universe : universe / 2)];
    if (rng() % 3 != 0) {
      const uint32_t slot = static_cast<uint32_t>(ids.by_slot.size());
      ids.by_slot.push_back(name);
      auto before = model.find(name);
      std::optional<uint32_t> expected;
      if (before != model.end()) expected = before->second;
      ASSERT_EQ(table.Assign(name, slot, ids), expected) << step;
      model[name] = slot;
    } else {
      auto before = model.find(name);
      std::optional<uint32_t> expected;
      if (before != model.end()) {
        expected = before->second;
        model.erase(before);
      }
      ASSERT_EQ(table.Erase(name, ids), expected) << step;
    }
    ASSERT_EQ(table.size(), model.size());
    if (step % 1000 == 0) {
      for (const std::string& n : names) {
        auto it = model.find(n);
        std::optional<uint32_t> expected;
        if (it != model.end()) expected = it->second;
        ASSERT_EQ(table.Find(n, ids), expected) << step << " " << n;
      }
    }
  }
  EXPECT_LE(table.memory_bytes(), 16 * universe);
}

TEST(SlotIdTable, ReserveThenBulkAssignWithPrefetch) {
  Ids ids;
  const size_t n = 10000;
  for (size_t i = 0; i < n; ++i) ids.by_slot.push_back("item-" + std::to_string(i));
  SlotIdTable table;
  table.Reserve(n);
  const size_t reserved = table.memory_bytes();
  for (size_t i = 0; i < n; ++i) {
    const uint32_t hash = SlotIdTable::HashOf(ids.by_slot[i]);
    table.Prefetch(hash);
    ASSERT_FALSE(table.Assign(ids.by_slot[i], hash, static_cast<uint32_t>(i), ids));
  }
  EXPECT_EQ(table.memory_bytes(), reserved);  // no growth after Reserve
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(table.Find(ids.by_slot[i], ids), i);
  table.Clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.Find("item-1", ids));
}

}  // namespace
}  // namespace vectord::engine
