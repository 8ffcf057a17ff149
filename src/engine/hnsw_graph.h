// HnswGraph: the hierarchical navigable small world of Malkov & Yashunin
// (2018) over the slots of a SlotStorage — levels, links, the entry point,
// the walk, insertion, neighbour selection and the repair of links around
// deleted nodes. Level-0 degree is 2M and M above; neighbours are chosen by
// the diversity heuristic, links made in both directions and pruned with the
// same heuristic when a node is full.
//
// The graph never knows how a vector is stored or which items live where:
// a walk measures distances through a space (distance_spaces.h) and skips
// what the caller's accept rule refuses; inserts measure on the floats.
//
// Thread safety:
// - Walk() may run from any number of threads, also during Insert(); it
//   reads links under each node's spinlock.
// - Insert() may run from several threads of one write at once (the
//   index's write lock keeps writes apart); a node that raises the top
//   level is inserted whole under entry_mutex_.
// - RandomLevel(), RepairNode() and ReplaceDeletedEntry() run inside a write
//   (RepairNode from several of its threads, on different nodes).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <vector>

#include "engine/metric.h"
#include "engine/search_scratch.h"
#include "engine/slot_bitset.h"
#include "engine/slot_storage.h"

namespace vectord::engine {

class HnswGraph {
 public:
  // (max_level << 32) | entry slot, or kNoEntry for an empty graph.
  static constexpr uint64_t kNoEntry = ~uint64_t{0};
  static uint64_t PackEntry(int level, uint32_t slot) {
    return (static_cast<uint64_t>(level) << 32) | slot;
  }
  static int EntryLevel(uint64_t entry) { return static_cast<int>(entry >> 32); }
  static uint32_t EntrySlot(uint64_t entry) { return static_cast<uint32_t>(entry); }

  HnswGraph(SlotStorage& storage, const DistanceMetric& metric, uint32_t dimension, uint32_t m,
            uint32_t ef_construction, uint64_t seed);

  uint64_t entry() const { return entry_.load(std::memory_order_acquire); }
  void set_entry(uint64_t entry) { entry_.store(entry, std::memory_order_release); }

  // The level generator's state, saved in index files so that a reloaded
  // index goes on drawing the same levels.
  uint64_t rng_state() const { return rng_state_; }
  void set_rng_state(uint64_t state) { rng_state_ = state; }
  // A new node's level, P(level >= l) = M^-l.
  int RandomLevel();

  // Links `slot` (its vector, level and storage already in place) into the
  // graph.
  void Insert(uint32_t slot, SearchScratch& scratch);

  // A search's whole walk from `entry`: greedy through the upper levels,
  // ef-wide on level 0, leaving up to ef accepted candidates (live, and in
  // `filter` when given) in scratch.results as a max-heap.
  template <typename Space>
  void Walk(const Space& space, uint64_t entry, size_t ef, const SlotBitset* filter,
            SearchScratch& scratch) const;

  // Replaces a live node's links to deleted nodes by their own neighbours
  // (two hops through tombstones at most), chosen by the heuristic.
  void RepairNode(uint32_t node, SearchScratch& scratch);
  // When the entry point is no longer live, makes the live node with the
  // highest level the entry (none: the graph is empty).
  void ReplaceDeletedEntry();

 private:
  float Distance(const float* a, const float* b) const {
    return metric_.Distance(a, b, dimension_);
  }
  uint32_t CapacityAt(int level) const {
    return level == 0 ? storage_.layout().level0_capacity : storage_.layout().upper_capacity;
  }

  template <typename Space>
  void GreedyDescend(const Space& space, int from_level, int to_level, uint32_t* current,
                     float* current_distance, SearchScratch& scratch) const;
  // kForSearch: only live (and filtered) nodes become results; an insert
  // takes every node it meets.
  template <bool kForSearch, typename Space>
  void SearchLayer(const Space& space, uint32_t entry, float entry_distance, size_t ef, int level,
                   const SlotBitset* filter, SearchScratch& scratch) const;
  // Keeps at most max_count of `candidates` (sorted nearest first), each
  // nearer to the base than to every one kept before it.
  void SelectNeighbours(std::vector<Candidate>& candidates, size_t max_count,
                        uint32_t exclude) const;
  void LinkBack(uint32_t node, int level, uint32_t new_neighbour, SearchScratch& scratch);
  // Writes a new node's links at `level`: scratch.selection plus any links
  // other inserters added meanwhile, pruned to capacity.
  void SetOwnLinks(uint32_t slot, int level, SearchScratch& scratch);
  // Chooses a new node's neighbours on every level, top down, into
  // scratch.per_level; returns the highest level it linked on.
  int ChooseNeighbours(uint32_t slot, int level, uint64_t entry, SearchScratch& scratch) const;

  SlotStorage& storage_;
  const DistanceMetric& metric_;
  const uint32_t dimension_;
  const uint32_t ef_construction_;
  const double level_multiplier_;  // 1 / ln(M)

  std::atomic<uint64_t> entry_{kNoEntry};
  std::mutex entry_mutex_;  // held while a node that raises max_level is inserted
  uint64_t rng_state_;      // changed only inside writes
};

template <typename Space>
void HnswGraph::GreedyDescend(const Space& space, int from_level, int to_level, uint32_t* current,
                              float* current_distance, SearchScratch& s) const {
  uint32_t* links = s.links.data();
  for (int level = from_level; level > to_level; --level) {
    bool moved = true;
    while (moved) {
      moved = false;
      uint32_t count = storage_.CopyLinks(*current, level, links);
      // As in SearchLayer: all the loads first, so that they overlap; and
      // only a neighbour nearer than the current node matters, so each
      // distance may stop once it is past that.
      for (uint32_t i = 0; i < count; ++i) {
        // A sketch space's own rows are for screening, which the descent
        // does not do: fetch what it measures.
        if constexpr (requires { space.PrefetchRefine(uint32_t{0}); }) {
          space.PrefetchRefine(links[i]);
        } else {
          space.PrefetchStart(links[i]);
        }
      }
      for (uint32_t i = 0; i < count; ++i) {
        if (i + 1 < count) space.PrefetchAll(links[i + 1]);
        float d = space.DistanceBelow(links[i], *current_distance);
        if (d < *current_distance) {
          *current_distance = d;
          *current = links[i];
          moved = true;
        }
      }
    }
  }
}

template <bool kForSearch, typename Space>
void HnswGraph::SearchLayer(const Space& space, uint32_t entry, float entry_distance, size_t ef,
                            int level, const SlotBitset* filter, SearchScratch& s) const {
  auto accept = [&](uint32_t slot) {
    if constexpr (!kForSearch) return true;
    return storage_.Is(slot, SlotState::kLive) && (filter == nullptr || filter->Test(slot));
  };
  s.BeginVisit(storage_.slot_count());
  s.candidates.clear();
  s.results.clear();
  s.Visit(entry);
  s.candidates.push_back({entry_distance, entry});
  if (accept(entry)) s.results.push_back({entry_distance, entry});
  float bound = s.results.empty() ? std::numeric_limits<float>::infinity() : entry_distance;

  while (!s.candidates.empty()) {
    Candidate current = s.candidates.front();
    if (current.distance > bound && s.results.size() >= ef) break;
    std::pop_heap(s.candidates.begin(), s.candidates.end(), ByDistanceReversed{});
    s.candidates.pop_back();

    uint32_t count = storage_.CopyLinks(current.slot, level, s.links.data());
    // Keep the unvisited neighbours and start fetching their vectors before
    // computing any distance, so the memory loads overlap.
    uint32_t fresh = 0;
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t n = s.links[i];
      if (!s.Visit(n)) continue;
      s.links[fresh++] = n;
      space.PrefetchStart(n);
      // The state is read for every neighbour that makes the result set.
      if constexpr (kForSearch) storage_.PrefetchNode(n);
    }
    if constexpr (requires { space.LowerBound(uint32_t{0}); }) {
      // A space with a cheap lower bound (sketches) screens the neighbours
      // first, so that the rows of all that pass are fetched together.
      const bool full = s.results.size() >= ef;
      uint32_t kept = 0;
      for (uint32_t i = 0; i < fresh; ++i) {
        const uint32_t n = s.links[i];
        if (full && space.LowerBound(n) >= bound) continue;
        s.links[kept++] = n;
        space.PrefetchRefine(n);
      }
      fresh = kept;
    }
    for (uint32_t i = 0; i < fresh; ++i) {
      uint32_t n = s.links[i];
      if (i + 1 < fresh) space.PrefetchAll(s.links[i + 1]);
      const bool full = s.results.size() >= ef;
      float d = space.DistanceBelow(n, full ? bound : std::numeric_limits<float>::infinity());
      if (!full || d < bound) {
        s.candidates.push_back({d, n});
        std::push_heap(s.candidates.begin(), s.candidates.end(), ByDistanceReversed{});
        if (accept(n)) {
          s.results.push_back({d, n});
          std::push_heap(s.results.begin(), s.results.end(), ByDistance{});
          if (s.results.size() > ef) {
            std::pop_heap(s.results.begin(), s.results.end(), ByDistance{});
            s.results.pop_back();
          }
          bound = s.results.front().distance;
        }
      }
    }
  }
}

template <typename Space>
void HnswGraph::Walk(const Space& space, uint64_t entry, size_t ef, const SlotBitset* filter,
                     SearchScratch& s) const {
  uint32_t current = EntrySlot(entry);
  float current_distance = space.Distance(current);
  GreedyDescend(space, EntryLevel(entry), 0, &current, &current_distance, s);
  SearchLayer<true>(space, current, current_distance, ef, 0, filter, s);
}

}  // namespace vectord::engine
