#include "engine/hnsw_graph.h"

#include <cmath>

#include "engine/distance_spaces.h"
#include "engine/index_options.h"

namespace vectord::engine {

HnswGraph::HnswGraph(SlotStorage& storage, const DistanceMetric& metric, uint32_t dimension,
                     uint32_t m, uint32_t ef_construction, uint64_t seed)
    : storage_(storage),
      metric_(metric),
      dimension_(dimension),
      ef_construction_(ef_construction),
      level_multiplier_(1.0 / std::log(static_cast<double>(m))),
      rng_state_(seed) {}

int HnswGraph::RandomLevel() {
  // splitmix64: small, fast, and fully determined by the seed.
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  double u = (static_cast<double>(z >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  int level = static_cast<int>(-std::log(u) * level_multiplier_);
  return std::min(level, kMaxLevel);
}

void HnswGraph::SelectNeighbours(std::vector<Candidate>& candidates, size_t max_count,
                                 uint32_t exclude) const {
  // The heuristic keeps a candidate only if it is nearer to the base than to
  // every neighbour kept so far, which spreads the links over directions
  // instead of one dense cluster.
  std::erase_if(candidates, [&](const Candidate& c) { return c.slot == exclude; });
  if (candidates.size() <= max_count) return;
  size_t kept = 0;
  for (size_t i = 0; i < candidates.size() && kept < max_count; ++i) {
    const Candidate c = candidates[i];
    const float* cv = storage_.VectorOf(c.slot);
    bool diverse = true;
    for (size_t j = 0; j < kept; ++j) {
      if (Distance(cv, storage_.VectorOf(candidates[j].slot)) < c.distance) {
        diverse = false;
        break;
      }
    }
    if (diverse) candidates[kept++] = c;
  }
  candidates.resize(kept);
}

void HnswGraph::LinkBack(uint32_t node, int level, uint32_t new_neighbour, SearchScratch& s) {
  const uint32_t capacity = CapacityAt(level);
  storage_.LockNode(node);
  uint32_t* links = storage_.LinksOf(node, level);
  uint32_t count = links[0];
  if (std::find(links + 1, links + 1 + count, new_neighbour) != links + 1 + count) {
    storage_.UnlockNode(node);
    return;
  }
  if (count < capacity) {
    links[1 + count] = new_neighbour;
    links[0] = count + 1;
    storage_.UnlockNode(node);
    return;
  }
  const float* base = storage_.VectorOf(node);
  s.prune.clear();
  s.prune.push_back({Distance(base, storage_.VectorOf(new_neighbour)), new_neighbour});
  for (uint32_t i = 0; i < count; ++i) {
    s.prune.push_back({Distance(base, storage_.VectorOf(links[1 + i])), links[1 + i]});
  }
  std::sort(s.prune.begin(), s.prune.end(), ByDistance{});
  SelectNeighbours(s.prune, capacity, node);
  for (size_t i = 0; i < s.prune.size(); ++i) links[1 + i] = s.prune[i].slot;
  links[0] = static_cast<uint32_t>(s.prune.size());
  storage_.UnlockNode(node);
}

void HnswGraph::SetOwnLinks(uint32_t slot, int level, SearchScratch& s) {
  const uint32_t capacity = CapacityAt(level);
  storage_.LockNode(slot);
  uint32_t* links = storage_.LinksOf(slot, level);
  // Threads inserting other nodes of the same batch may already have linked
  // themselves here (they can reach this node through its higher levels):
  // keep their links next to the chosen ones, never overwrite them.
  s.prune.assign(s.selection.begin(), s.selection.end());
  const float* base = storage_.VectorOf(slot);
  for (uint32_t i = 0; i < links[0]; ++i) {
    uint32_t other = links[1 + i];
    bool chosen = false;
    for (const Candidate& c : s.selection) chosen = chosen || c.slot == other;
    if (!chosen) s.prune.push_back({Distance(base, storage_.VectorOf(other)), other});
  }
  if (s.prune.size() > capacity) {
    std::sort(s.prune.begin(), s.prune.end(), ByDistance{});
    SelectNeighbours(s.prune, capacity, slot);
  }
  for (size_t i = 0; i < s.prune.size(); ++i) links[1 + i] = s.prune[i].slot;
  links[0] = static_cast<uint32_t>(s.prune.size());
  storage_.UnlockNode(slot);
}

int HnswGraph::ChooseNeighbours(uint32_t slot, int level, uint64_t entry, SearchScratch& s) const {
  const FloatSpace space{storage_, metric_, dimension_, storage_.VectorOf(slot)};
  const int max_level = EntryLevel(entry);
  uint32_t current = EntrySlot(entry);
  float current_distance = space.Distance(current);
  GreedyDescend(space, max_level, level, &current, &current_distance, s);

  const int top = std::min(level, max_level);
  s.per_level.resize(static_cast<size_t>(top) + 1);
  for (int l = top; l >= 0; --l) {
    SearchLayer<false>(space, current, current_distance, ef_construction_, l, nullptr, s);
    std::vector<Candidate>& chosen = s.per_level[static_cast<size_t>(l)];
    chosen.assign(s.results.begin(), s.results.end());
    std::sort(chosen.begin(), chosen.end(), ByDistance{});
    std::erase_if(chosen, [&](const Candidate& c) { return c.slot == slot; });
    if (!chosen.empty()) {
      current = chosen.front().slot;
      current_distance = chosen.front().distance;
    }
    // Tombstones still route searches but are not worth linking to.
    std::erase_if(chosen,
                  [&](const Candidate& c) { return storage_.Is(c.slot, SlotState::kDeleted); });
    SelectNeighbours(chosen, storage_.layout().upper_capacity, slot);
  }
  return top;
}

void HnswGraph::Insert(uint32_t slot, SearchScratch& s) {
  const int level = storage_.LevelOf(slot);

  // A node that will become the new top of the graph is inserted whole under
  // entry_mutex_, so no one enters through it before it has links.
  std::unique_lock top_lock(entry_mutex_, std::defer_lock);
  uint64_t entry = entry_.load(std::memory_order_acquire);
  if (entry == kNoEntry || level > EntryLevel(entry)) {
    top_lock.lock();
    entry = entry_.load(std::memory_order_acquire);
    if (entry != kNoEntry && level <= EntryLevel(entry)) top_lock.unlock();
  }
  if (entry == kNoEntry) {
    entry_.store(PackEntry(level, slot), std::memory_order_release);
    return;
  }

  // Choose the neighbours on every level first, top down, while no one can
  // reach this node; then write its own links on every level; only then link
  // it into its neighbours, bottom up. A concurrent search or insert that
  // reaches the node therefore always finds it fully linked below, never a
  // dead end with an empty list.
  const int top = ChooseNeighbours(slot, level, entry, s);
  for (int l = 0; l <= top; ++l) {
    s.selection = s.per_level[static_cast<size_t>(l)];
    SetOwnLinks(slot, l, s);
  }
  for (int l = 0; l <= top; ++l) {
    for (const Candidate& c : s.per_level[static_cast<size_t>(l)]) LinkBack(c.slot, l, slot, s);
  }

  if (top_lock.owns_lock()) entry_.store(PackEntry(level, slot), std::memory_order_release);
}

void HnswGraph::RepairNode(uint32_t node, SearchScratch& s) {
  auto is_deleted = [&](uint32_t slot) { return storage_.Is(slot, SlotState::kDeleted); };
  const int level = storage_.LevelOf(node);
  const float* base = storage_.VectorOf(node);
  for (int l = 0; l <= level; ++l) {
    uint32_t count = storage_.CopyLinks(node, l, s.links.data());
    bool touched = false;
    for (uint32_t i = 0; i < count && !touched; ++i) touched = is_deleted(s.links[i]);
    if (!touched) continue;

    // Replace each deleted neighbour by its own neighbours (two hops through
    // tombstones at most), then let the heuristic choose among them all.
    std::vector<uint32_t> pool;
    std::vector<uint32_t> through;
    for (uint32_t i = 0; i < count; ++i) {
      (is_deleted(s.links[i]) ? through : pool).push_back(s.links[i]);
    }
    for (int hop = 0; hop < 2 && !through.empty(); ++hop) {
      std::vector<uint32_t> next;
      for (uint32_t d : through) {
        uint32_t m = storage_.CopyLinks(d, l, s.more_links.data());
        for (uint32_t i = 0; i < m; ++i) {
          uint32_t x = s.more_links[i];
          if (x == node) continue;
          (is_deleted(x) ? next : pool).push_back(x);
        }
      }
      through.swap(next);
    }
    std::sort(pool.begin(), pool.end());
    pool.erase(std::unique(pool.begin(), pool.end()), pool.end());
    s.prune.clear();
    for (uint32_t x : pool) s.prune.push_back({Distance(base, storage_.VectorOf(x)), x});
    std::sort(s.prune.begin(), s.prune.end(), ByDistance{});
    SelectNeighbours(s.prune, CapacityAt(l), node);

    storage_.LockNode(node);
    uint32_t* links = storage_.LinksOf(node, l);
    for (size_t i = 0; i < s.prune.size(); ++i) links[1 + i] = s.prune[i].slot;
    links[0] = static_cast<uint32_t>(s.prune.size());
    storage_.UnlockNode(node);
  }
}

void HnswGraph::ReplaceDeletedEntry() {
  const uint64_t entry = entry_.load(std::memory_order_acquire);
  if (entry == kNoEntry || storage_.Is(EntrySlot(entry), SlotState::kLive)) return;
  uint64_t best = kNoEntry;
  const uint32_t count = storage_.slot_count();
  for (uint32_t slot = 0; slot < count; ++slot) {
    if (!storage_.Is(slot, SlotState::kLive)) continue;
    int level = storage_.LevelOf(slot);
    if (best == kNoEntry || level > EntryLevel(best)) best = PackEntry(level, slot);
  }
  entry_.store(best, std::memory_order_release);
}

}  // namespace vectord::engine
